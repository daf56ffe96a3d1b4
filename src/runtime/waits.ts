// Backoff waits that a jump of the system clock does not move. A record stores when its next attempt
// is due as a wall-clock time (next_attempt_at), so that a restart waits only what is left. Within a
// run, though, that time is read once against the wall clock and then counted on the monotonic clock:
// set back by a day, the wall clock would otherwise hold a 2 s backoff for a day; set forward, it
// would make every wait due at once. (PRODUCT.md §5; the torture issue's "clock jump of ±1 day".)
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';

export class Waits {
  private readonly clock: Clock;
  private readonly monotonic: () => number;
  /** Per task: the stored due time last seen, and when it falls due on the monotonic clock. */
  private readonly seen = new Map<string, { at: string; due: number }>();

  constructor(clock: Clock, monotonic: () => number = () => performance.now()) {
    this.clock = clock;
    this.monotonic = monotonic;
  }

  /**
   * The wall-clock time (epoch ms, as the clock reads now) at which the wait `at` of task `id` ends,
   * or undefined when it has none. A due time seen for the first time is taken at its word.
   */
  dueAt(id: string, at: string | undefined): number | undefined {
    if (at === undefined) {
      this.seen.delete(id);
      return undefined;
    }
    const now = this.monotonic();
    let known = this.seen.get(id);
    if (known?.at !== at) {
      known = { at, due: now + Math.max(0, Date.parse(at) - this.clock.now()) };
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
