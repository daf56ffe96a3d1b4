// Stored waits read at start are clamped to what the machine could have decided (issue 13 item 17).
import t from 'tap';
import type { OrchConfig, TaskRecord } from '../../src/generated/types.js';
import { longestWaitMs, storedWaitLimit, Waits } from '../../src/runtime/waits.js';
import { attempt, makeRecord, T0 } from '../fixtures/read-records.js';

const config: OrchConfig = {
  version: 1,
  project: 'waits',
  workers: 1,
  retry: { max_delay_s: 60 },
  workflows: { default: { implement: { command: ['true'], retry: { max_delay_s: 20 } }, max_rate_limit_wait_s: 600 } },
};
const iso = (ms: number): string => new Date(ms).toISOString();

t.test('the longest stored wait: the failed phase\'s max_delay_s, or for a rate-limit park the time parked so far within max_rate_limit_wait_s', async t => {
  const backoff = makeRecord('B', { phase: 'implement', attempts: [attempt(1, 'implement', { ended_at: iso(T0) })], next_attempt_at: iso(T0 + 20_000) });
  t.equal(longestWaitMs(backoff, config), 20_000);
  t.equal(longestWaitMs(makeRecord('P', { phase: 'plan', attempts: [attempt(1, 'plan')], next_attempt_at: iso(T0) }), config), 60_000, 'the config default for a phase without its own');
  const parked = (counted: number | undefined): TaskRecord => makeRecord('R', {
    phase: 'implement',
    next_attempt_at: iso(T0 + 30_000),
    last_error: { at: iso(T0), message: '429', phase: 'implement', reason: 'rate_limited' },
    counters: { interruptions: 0, plan_rejections: 0, same_error: 0, ...(counted === undefined ? {} : { rate_limit_wait_ms: counted }) },
  });
  t.equal(longestWaitMs(parked(30_000), config), 30_000);
  t.equal(longestWaitMs(parked(undefined), config), 600_000);
  t.equal(longestWaitMs(makeRecord('N'), config), undefined, 'no wait, no limit');
  t.equal(longestWaitMs(makeRecord('W', { spec: { goal: 'x', workflow: 'nope' }, next_attempt_at: iso(T0) }), config), undefined, 'an unknown workflow: taken at its word');
});

t.test('a wait loaded from a record is clamped to its limit from now; one the machine has just decided is not', async t => {
  let now = T0;
  const clock = { now: () => now, sleep: async () => undefined };
  let monotonic = 0;
  const records = new Map<string, TaskRecord>();
  const waits = new Waits(clock, () => monotonic, storedWaitLimit(records, () => config));
  // The clock was set back an hour after the wait was stored.
  const stored = iso(T0 + 3_600_000 + 20_000);
  records.set('B', makeRecord('B', { phase: 'implement', attempts: [attempt(1, 'implement')], next_attempt_at: stored }));
  t.equal(waits.dueAt('B', stored), T0 + 20_000, 'a 20 s backoff stays 20 s');
  monotonic += 20_000;
  now += 20_000;
  t.equal(waits.judgeAt('B', stored, now), Date.parse(stored), 'due: judged at its stored time, so the machine runs it');
  // A rate-limit park of two hours just decided (the record held is the one before it): it stands.
  const decided = iso(now + 7_200_000);
  t.equal(waits.dueAt('B', decided), now + 7_200_000);
});
