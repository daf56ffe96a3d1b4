// The system clock jumps a day, forward or back, while a task waits out a backoff (the torture issue,
// PRODUCT.md §5): the wait is counted on the monotonic clock, so the task gets one attempt when its
// backoff is over — not a burst of every attempt left (forward), not a wait of a day (back).
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../src/clock.js';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { ORCH_BIN } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The whole run takes about 3 s (backoffs of 1 s and 2 s); a wall-clock wait would take a day. */
const RUN_LIMIT_MS = 20_000;

for (const [direction, jump] of [['forward', DAY_MS], ['back', -DAY_MS]] as const) {
  t.test(`the clock jumps a day ${direction} during a backoff: one attempt when the backoff is over`, async t => {
    let offset = 0;
    const clock: Clock = { now: () => Date.now() + offset, sleep: systemClock.sleep };
    const root = makeProject(t.testdir(), {
      workflow: {
        implement: { command: [process.execPath, STUB_AGENT] },
        retry: { strategy: 'exponential', base_delay_s: 1, max_delay_s: 4, max_attempts: 3, jitter: 0 },
      },
      tasks: { F: { goal: 'fails every time', env: script({ implement: ['fail', 'fail', 'fail'] }) } },
    });
    const recordFile = join(root, '.isollm/state/tasks/F.json');
    const record = (): TaskRecord | undefined => {
      try {
        return JSON.parse(readFileSync(recordFile, 'utf8')) as TaskRecord;
      } catch {
        return undefined;
      }
    };
    const started = Date.now();
    const run = runOnce(root, { clock });
    await waitFor('attempt 1 to end', () => record()?.attempts[0]?.ended_at !== undefined, 10_000);
    offset = jump;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<'held'>(resolve => (timer = setTimeout(() => resolve('held'), RUN_LIMIT_MS)));
    const result = await Promise.race([run, limit]);
    clearTimeout(timer);
    t.not(result, 'held', `the run ends within ${RUN_LIMIT_MS / 1000} s: the backoff was not held by the jump`);
    if (result === 'held') return;
    t.same(result.failed, ['F']);
    const attempts = record()?.attempts ?? [];
    t.equal(attempts.length, 3, 'three attempts, all spent');
    const gap = Date.parse(attempts[2]?.started_at ?? '') - Date.parse(attempts[1]?.ended_at ?? '');
    t.ok(gap >= 1900, `attempt 3 waited its 2 s backoff after attempt 2 (${gap} ms): no burst`);
    t.ok(Date.now() - started < RUN_LIMIT_MS, 'in real time, seconds');
  });
}

t.test('the clock set back an hour between a crash and the resume: a stored backoff waits at most its max_delay_s from now', async t => {
  const dir = t.testdir();
  const root = makeProject(dir, {
    workflow: {
      implement: { command: [process.execPath, STUB_AGENT] },
      retry: { strategy: 'fixed', base_delay_s: 4, max_delay_s: 4, max_attempts: 3, jitter: 0 },
    },
    // The stub's call count kept across the two runs: the first attempt fails, the second passes.
    tasks: { F: { goal: 'fails once', env: script({ implement: ['fail', 'ok'] }, { STUB_DIR: join(dir, 'stub-counts') }) } },
  });
  const recordFile = join(root, '.isollm/state/tasks/F.json');
  const record = (): TaskRecord | undefined => {
    try {
      return JSON.parse(readFileSync(recordFile, 'utf8')) as TaskRecord;
    } catch {
      return undefined;
    }
  };
  // The first run, in its own process, is killed -9 while the task waits out its backoff.
  const first = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '' }, stdio: 'ignore' });
  const exited = once(first, 'exit');
  t.teardown(() => {
    first.kill('SIGKILL');
  });
  await waitFor('the backoff after attempt 1 to be stored', () => record()?.next_attempt_at !== undefined, 15_000);
  first.kill('SIGKILL');
  await exited;
  t.equal(record()?.attempts.length, 1, 'killed during the backoff, before attempt 2');

  const clock: Clock = { now: () => Date.now() - HOUR_MS, sleep: systemClock.sleep };
  const controller = new AbortController();
  const started = Date.now();
  const run = runOnce(root, { clock, signal: controller.signal });
  t.teardown(async () => {
    controller.abort();
    await run.catch(() => undefined);
  });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'held'>(resolve => (timer = setTimeout(() => resolve('held'), RUN_LIMIT_MS)));
  const result = await Promise.race([run, limit]);
  clearTimeout(timer);
  t.not(result, 'held', `the resumed run ends within ${RUN_LIMIT_MS / 1000} s: the 4 s backoff was not stretched to an hour`);
  if (result === 'held') return;
  t.same(result.done, ['F']);
  t.equal(record()?.attempts.length, 2, 'attempt 2 ran, and passed');
  t.ok(Date.now() - started >= 3_000, `the backoff was still waited, clamped to 4 s from now (${Date.now() - started} ms)`);
});
