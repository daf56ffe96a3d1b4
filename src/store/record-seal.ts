// The seal of a task record (PRODUCT.md §6, issue 13 item 8): a hash of what orch wrote, stored in the
// record itself. A live orchestrator judges hand edits against its own copy in memory; while none runs
// nobody holds that copy, so the next start (and `orch doctor`) read the seal instead. It tells an
// untouched record from an edited one, and an edit of `state` alone from any other, without keeping a
// second copy of every record: with only `state` changed, the record as orch wrote it is the edited one
// with `state` put back to where its history last took it, and the seal proves it.
//
// Not a signature: anyone may recompute it. It catches edits made by hand, which is all it is for.
import { createHash } from 'node:crypto';
import type { TaskRecord } from '../generated/types.js';

/** The fields the store stamps on every write: never part of what a person edits or the seal covers. */
export const RECORD_STAMPS = ['version', 'rev', 'epoch', '$schema', 'seal'] as const;

/** Besides the stamps, left out of the seal: a person may touch it with `state`, as a live judge allows. */
const UNSEALED = new Set<string>([...RECORD_STAMPS, 'updated_at']);

/** The record without its stamps: what a hand edit is compared on. */
export function withoutStamps(record: TaskRecord, also: readonly string[] = []): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...record };
  for (const key of [...RECORD_STAMPS, ...also]) delete copy[key];
  return copy;
}

/** sha256 (hex) of the record's JSON without the stamps and `updated_at`, keys in the record's own order. */
export function sealOf(record: TaskRecord): string {
  const covered = Object.fromEntries(Object.entries(record).filter(([key]) => !UNSEALED.has(key)));
  return createHash('sha256').update(JSON.stringify(covered)).digest('hex');
}

export type SealCheck =
  /** Written before records were sealed: taken as it is. */
  | { kind: 'unsealed' }
  | { kind: 'intact' }
  /** Only `state` was changed, from `original.state`: `original` is the record as orch wrote it. */
  | { kind: 'state_edited'; original: TaskRecord }
  /** More than `state` was changed: what orch wrote cannot be told. */
  | { kind: 'edited' };

/** Whether `record` is as orch last wrote it, judged by its seal. */
export function checkSeal(record: TaskRecord): SealCheck {
  if (record.seal === undefined) return { kind: 'unsealed' };
  if (sealOf(record) === record.seal) return { kind: 'intact' };
  // Every state orch sets is the `to` of a history entry; a record with no history is as created.
  const written = record.history.at(-1)?.to ?? 'NEW';
  if (written !== record.state) {
    const original: TaskRecord = { ...record, state: written };
    if (sealOf(original) === record.seal) return { kind: 'state_edited', original };
  }
  return { kind: 'edited' };
}
