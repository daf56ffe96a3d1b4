// A record edited by hand (PRODUCT.md §6): while its task is AWAITING_HUMAN the orchestrator does not
// write it, and a person may set `state` to decide (approve: the resume state; reject: FAILED; replan:
// PLANNING; cancel: CANCELLED; another phase's state: retry from it). Any other edit is refused: the
// edited file is kept beside the record as <id>.rejected-<time>.json and the record is restored.
import { isDeepStrictEqual } from 'node:util';
import type { TaskRecord } from '../generated/types.js';
import { eventForStateEdit, type TaskEvent } from '../machine/events.js';
import { withoutStamps } from '../store/record-seal.js';

export type EditVerdict =
  | { kind: 'unchanged' }
  | { kind: 'decision'; event: TaskEvent }
  | { kind: 'refused'; reason: string };

/** Besides the store's own stamps, a field a person may change with `state` without the edit being refused. */
const ALSO_IGNORED = ['updated_at'] as const;

/** What an edit of `ours` (the record as the orchestrator last wrote it) into `edited` means. */
export function judgeEdit(ours: TaskRecord, edited: TaskRecord): EditVerdict {
  if (isDeepStrictEqual(ours, edited)) return { kind: 'unchanged' };
  const a = withoutStamps(ours, ALSO_IGNORED);
  const b = withoutStamps(edited, ALSO_IGNORED);
  if (isDeepStrictEqual(a, b)) return { kind: 'unchanged' };
  const { state: _sa, ...restA } = a;
  const { state: _sb, ...restB } = b;
  if (!isDeepStrictEqual(restA, restB)) {
    const changed = Object.keys({ ...restA, ...restB }).filter(key => !isDeepStrictEqual(restA[key], restB[key]));
    return { kind: 'refused', reason: `only "state" may be edited by hand, and only while the task is AWAITING_HUMAN; changed: ${changed.join(', ')}` };
  }
  if (ours.state !== 'AWAITING_HUMAN') {
    return { kind: 'refused', reason: `the task is ${ours.state}: its record is the orchestrator's; use \`orch cancel ${ours.id}\` or edit the spec instead` };
  }
  const event = eventForStateEdit(ours, edited.state, 'human');
  if (event === undefined) return { kind: 'refused', reason: `AWAITING_HUMAN → ${edited.state} is not a decision a person can make by hand` };
  return { kind: 'decision', event };
}

/**
 * Whether `onDisk` is `attempted` as the store writes it: the same content, whatever the stamps (rev,
 * epoch, version). `attempted` differed from the file it was made from, so finding it there means the
 * write landed. It goes through JSON first, as it did on its way to the file (a new record built in
 * memory may hold keys set to undefined, which the file does not).
 */
export function isWriteOf(onDisk: TaskRecord, attempted: TaskRecord): boolean {
  return isDeepStrictEqual(withoutStamps(onDisk), withoutStamps(JSON.parse(JSON.stringify(attempted)) as TaskRecord));
}

/** The name a refused edit is kept under, beside the record. */
export function rejectedName(id: string, now: number): string {
  return `${id}.rejected-${new Date(now).toISOString().replace(/[:.]/g, '-')}.json`;
}
