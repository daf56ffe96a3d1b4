// A finished task's record as the engine keeps it between passes (issue 16: lean memory for finished
// tasks). The engine and its cache of the records folder held every record parsed, about 3 KB a task:
// 300 MiB of heap at 100,000 finished tasks, more than the whole start may take. A DONE, FAILED or
// CANCELLED record read from disk is kept as the fields a pass reads of it (its state for the
// dependencies, its spec hash for a spec edit, rev, cost, spec file) and the hash of its content.
// When the task is touched again (a spec edit starts a new generation, a decision, a hand edit of its
// file), the whole record is read back: from its file when the file still holds that content, or
// else from the archive of finished records (finished-archive.ts). The records this run writes stay
// whole: what the run did is its report's (run-report.ts), and it is bounded by the run's own work.
// Summaries outlive the run in the record index (record-index.ts), so a start reads only what changed.
import { isDeepStrictEqual } from 'node:util';
import type { RecordSummary, TaskRecord } from '../generated/types.js';
import { openAttempt } from '../machine/record.js';
import { isTerminal } from '../machine/states.js';
import { checkSeal, sealOf } from '../store/record-seal.js';

/** The shape is the schema's (schemas/record-index.schema.json): the start reads summaries from the index. */
export type { RecordSummary };

/** What the engine keeps of a task: its whole record, or the summary of a finished one. */
export type StoredRecord = TaskRecord | RecordSummary;

export function isSummary(record: StoredRecord): record is RecordSummary {
  return 'summarized' in record;
}

/**
 * `record` as a summary when it can be one: finished, no attempt open (a dead run's attempt is judged
 * at start on the whole record), and its seal holding or absent. A record whose seal does not hold
 * was edited by hand while no orchestrator ran: it stays whole, for the start to judge.
 */
export function summarize(record: TaskRecord): StoredRecord {
  if (!isTerminal(record.state) || openAttempt(record) !== undefined) return record;
  const check = checkSeal(record);
  if (check.kind !== 'intact' && check.kind !== 'unsealed') return record;
  // An intact seal is the hash of the content (checkSeal just computed it); a record without one gets it computed.
  const content = check.kind === 'intact' && record.seal !== undefined ? record.seal : sealOf(record);
  return {
    summarized: true,
    id: record.id,
    state: record.state as RecordSummary['state'],
    rev: record.rev,
    generation: record.generation,
    spec_hash: record.spec_hash,
    spec_file: record.spec_file,
    state_since: record.state_since,
    cost: { usd: record.cost.usd },
    content,
  };
}

/** Whether `record` holds what `summary` was made from (its stamps aside, rev included). */
export function isRecordOf(summary: RecordSummary, record: TaskRecord): boolean {
  return record.id === summary.id && record.rev === summary.rev && record.state === summary.state && sealOf(record) === summary.content;
}

/**
 * Whether two of what the engine keeps hold the same record: equal, or (one of them whole, the other
 * a summary) the same summary.
 */
export function sameStored(a: StoredRecord, b: StoredRecord): boolean {
  if (a === b || isDeepStrictEqual(a, b)) return true;
  if (isSummary(a) === isSummary(b)) return false;
  const summary = (isSummary(a) ? a : b) as RecordSummary;
  const whole = (isSummary(a) ? b : a) as TaskRecord;
  return isTerminal(whole.state) && isRecordOf(summary, whole);
}
