// Backoff waits that a jump of the system clock does not move. A record stores when its next attempt
// is due as a wall-clock time (next_attempt_at), so that a restart waits only what is left. Within a
// run, though, that time is read once against the wall clock and then counted on the monotonic clock:
// set back by a day, the wall clock would otherwise hold a 2 s backoff for a day; set forward, it
// would make every wait due at once. (PRODUCT.md §5; the torture issue's "clock jump of ±1 day".)
//
// A stored time read at start (a record written by an earlier run) has no monotonic reading behind it:
// a clock set back between a crash and `--resume` would make a 20 s backoff last an hour. No wait the
// machine decides is longer than its policy's cap, so a stored wait longer than that cap from now is
// clamped to it (longestWaitMs).
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import type { OrchConfig, TaskRecord } from '../generated/types.js';
import { resolveWorkflow } from '../machine/workflow.js';
import { isSummary, type StoredRecord } from './record-summary.js';

/**
 * The longest wait of task `id` that can be stored in `at`, in ms, or undefined for no limit: given
 * the stored time and the task, it says how long the machine could have made that wait.
 */
export type WaitLimit = (id: string, at: string) => number | undefined;

/**
 * The longest the machine makes the wait that `record` stores: a backoff is at most its phase's
 * `max_delay_s`; a rate-limit park at most what the task may spend parked (`max_rate_limit_wait_s`,
 * and no more than the parked time counted so far, which includes this park). Undefined when the
 * record stores no wait, or its workflow cannot be resolved (the wait is then taken at its word).
 */
export function longestWaitMs(record: TaskRecord, config: OrchConfig): number | undefined {
  if (record.next_attempt_at === undefined) return undefined;
  let workflow;
  try {
    workflow = resolveWorkflow(config, record.spec);
  } catch {
    return undefined;
  }
  if (record.last_error?.reason === 'rate_limited') {
    const capMs = workflow.max_rate_limit_wait_s * 1000;
    return Math.min(capMs, record.counters.rate_limit_wait_ms ?? capMs);
  }
  // The wait was decided when the last attempt failed, by that attempt's phase's policy.
  const phase = record.attempts.at(-1)?.phase ?? record.phase;
  const delays = phase === undefined ? Object.values(workflow.phases).map(p => p.retry.max_delay_s) : [workflow.phases[phase].retry.max_delay_s];
  return Math.max(0, ...delays) * 1000;
}

/**
 * The engine's WaitLimit: the limit of the record it holds, when that record stores this very wait (a
 * wait loaded from disk). A wait the machine has just decided (the record held is the one before it)
 * needs none: it was capped when it was computed.
 */
export function storedWaitLimit(records: ReadonlyMap<string, StoredRecord>, config: () => OrchConfig): WaitLimit {
  return (id, at) => {
    const record = records.get(id);
    // A finished task's summary has no wait (record-summary.ts).
    return record === undefined || isSummary(record) || record.next_attempt_at !== at ? undefined : longestWaitMs(record, config());
  };
}

export class Waits {
  private readonly clock: Clock;
  private readonly monotonic: () => number;
  private readonly limit: WaitLimit;
  /** Per task: the stored due time last seen, and when it falls due on the monotonic clock. */
  private readonly seen = new Map<string, { at: string; due: number }>();

  constructor(clock: Clock, monotonic: () => number = () => performance.now(), limit: WaitLimit = () => undefined) {
    this.clock = clock;
    this.monotonic = monotonic;
    this.limit = limit;
  }

  /**
   * The wall-clock time (epoch ms, as the clock reads now) at which the wait `at` of task `id` ends,
   * or undefined when it has none. A due time seen for the first time is taken at its word, up to
   * its limit from now.
   */
  dueAt(id: string, at: string | undefined): number | undefined {
    if (at === undefined) {
      this.seen.delete(id);
      return undefined;
    }
    const now = this.monotonic();
    let known = this.seen.get(id);
    if (known?.at !== at) {
      const left = Math.max(0, Date.parse(at) - this.clock.now());
      known = { at, due: now + Math.min(left, this.limit(id, at) ?? Infinity) };
      this.seen.set(id, known);
    }
    return this.clock.now() + (known.due - now);
  }

  /**
   * The time to judge task `id` by, for its wait `at`: the stored time itself once the wait is over,
   * just before it while the wait runs, and `now` when there is no wait. The machine's rules compare
   * the stored time with it, and so follow the monotonic count.
   */
  judgeAt(id: string, at: string | undefined, now: number): number {
    const due = this.dueAt(id, at);
    if (due === undefined || at === undefined) return now;
    const stored = Date.parse(at);
    return due <= now ? Math.max(now, stored) : Math.min(now, stored - 1);
  }
}
