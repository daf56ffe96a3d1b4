import t from 'tap';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOnce } from '../../src/runtime/orchestrator.js';
import type { TaskRecord } from '../../src/generated/types.js';
import { checkRunLog } from '../fixtures/run-log-checker.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));
const states = (r: TaskRecord): string[] => [r.history[0]?.from ?? r.state, ...r.history.map(h => h.to)];

t.test('a task runs the whole default workflow with stub agents: plan, review, two steps, code review, gate, DONE', async t => {
  const root = makeProject(t.testdir(), { tasks: { T1: { title: 'Hello', goal: 'say hello' } } });
  const result = await runOnce(root);
  t.same(result.done, ['T1']);
  const r = record(root, 'T1');
  t.equal(r.state, 'DONE');
  t.same(states(r), ['NEW', 'PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'IMPLEMENTING', 'CODE_REVIEW', 'QUALITY_GATE', 'DONE']);
  t.same(r.steps.map(s => [s.id, s.state]), [['S1', 'COMPLETED'], ['S2', 'COMPLETED']]);
  t.same(r.attempts.map(a => `${a.phase}${a.step_id ? `:${a.step_id}` : ''}:${a.reason}`), [
    'plan:succeeded', 'plan_review:succeeded', 'implement:S1:succeeded', 'step_review:S1:succeeded',
    'implement:S2:succeeded', 'step_review:S2:succeeded', 'code_review:succeeded', 'quality_gate:succeeded',
  ]);
  t.ok(r.attempts.every(a => a.process !== undefined && a.process.pgid === a.process.pid), 'each attempt ran in its own process group, identity recorded');
  t.equal(r.attempts.find(a => a.phase === 'quality_gate')?.checks?.[0]?.name, 'test');
  t.ok(r.cost.usd > 0.06 && r.cost.tokens === 7 * 150, `cost summed: ${r.cost.usd} usd, ${r.cost.tokens} tokens`);
  const firstAttempt = r.attempts[0];
  t.ok(firstAttempt && existsSync(join(root, '.isollm', firstAttempt.artifacts_dir, 'stdout.log')), 'stdout kept per attempt');
  const log = readFileSync(result.runLogPath, 'utf8');
  t.same(checkRunLog(log).problems, [], 'the run log follows §9');
  t.match(log, /Task T1 completed with status: done/);
  const workers = readdirSync(join(root, '.isollm/state/workers')).filter(n => n.endsWith('.json'));
  t.same(workers, ['w1.json', 'w2.json']);
});

t.test('plan rejected twice then approved; a step failing twice then passing', async t => {
  const env = { ...process.env, ...script({ plan_review: ['reject', 'reject', 'approve'], 'implement:S1': ['fail', 'fail', 'ok'] }) };
  const root = makeProject(t.testdir(), { tasks: { T1: { goal: 'retry things' } }, config: { workers: 1 } });
  const result = await runOnce(root, { env });
  t.same(result.done, ['T1']);
  const r = record(root, 'T1');
  t.equal(r.counters.plan_rejections, 2);
  t.equal(r.attempts.filter(a => a.phase === 'plan').length, 3);
  t.same(r.attempts.filter(a => a.step_id === 'S1' && a.phase === 'implement').map(a => a.reason), ['failed', 'failed', 'succeeded']);
  const log = readFileSync(result.runLogPath, 'utf8');
  t.match(log, /\*\*retry\*\*: .*Retry attempt 2\/3/);
});

t.test('a non-retryable failure goes straight to FAILED; exhausted retries wait for a human with on_exhausted human', async t => {
  const env = { ...process.env, STUB_SCRIPT: '{}' };
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { base_delay_s: 0.01, jitter: 0 }, on_exhausted: 'human' },
    tasks: {
      FATAL: { goal: 'fatal', env: script({ implement: ['fatal'] }) },
      FLAKY: { goal: 'always fails', env: script({ implement: ['fail'] }) },
    },
  });
  const result = await runOnce(root, { env });
  t.same(result.failed, ['FATAL']);
  t.same(result.awaiting, ['FLAKY']);
  t.equal(record(root, 'FATAL').attempts.length, 1);
  const flaky = record(root, 'FLAKY');
  t.equal(flaky.attempts.length, 3);
  t.equal(flaky.awaiting?.kind, 'exhausted');
});

t.test('a rate limit parks the task without spending an attempt', async t => {
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { max_attempts: 1 } },
    tasks: { RL: { goal: 'limited', env: script({ implement: ['ratelimit', 'ok'] }) } },
  });
  const result = await runOnce(root);
  t.same(result.done, ['RL']);
  const r = record(root, 'RL');
  t.same(r.attempts.map(a => a.reason), ['rate_limited', 'succeeded']);
});

t.test('dependencies run first, and priority orders the rest', async t => {
  const order = join(t.testdir(), 'order.log');
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] } },
    config: { workers: 1 },
    tasks: {
      A: { goal: 'a', depends_on: ['B'], priority: 10 },
      B: { goal: 'b' },
      C: { goal: 'c', priority: 5 },
    },
  });
  await runOnce(root, { env: { ...process.env, STUB_LOG: order } });
  t.same(readFileSync(order, 'utf8').trim().split('\n').map(l => l.split(' ')[0]), ['C', 'B', 'A']);
});

t.test('a new task that gets a worker at once is created in the same write as its start and first attempt; one that waits is created NEW', async t => {
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, '-e', '0'] } },
    config: { workers: 1 },
    tasks: { A: { goal: 'first', priority: 1 }, B: { goal: 'second' } },
  });
  const result = await runOnce(root);
  t.same(result.done.sort(), ['A', 'B']);
  const a = record(root, 'A');
  // rev 1: created IMPLEMENTING with its attempt (history NEW → IMPLEMENTING); rev 2: DONE.
  t.equal(a.rev, 2, 'two writes: created with its start and attempt, then its end');
  t.same(states(a), ['NEW', 'IMPLEMENTING', 'DONE']);
  // B waited for the one worker: created NEW (rev 1), then started with its attempt, then ended.
  t.equal(record(root, 'B').rev, 3);
});

t.test('without a watcher, --once spaces its looks at every file, but looks once more before it ends', async t => {
  // A's command drops B's spec and ends at once: the pass after it comes well within UNWATCHED_LOOK_MS
  // of the last look and does not list the folder; the run is then idle as far as the engine knows,
  // and must look at every file before it ends (else B would be left for the next run).
  const dir = t.testdir();
  // sh, not node: a node command's own start (over 100 ms under load) would let the next look come due.
  const drop = 'if [ "$ORCH_TASK_ID" = A ]; then echo \'{"goal": "b"}\' > "$1"; fi';
  const root = makeProject(dir, {
    workflow: { implement: { command: ['sh', '-c', drop, 'sh', join(dir, '.isollm', 'tasks', 'B.json')] } },
    config: { workers: 1 },
    tasks: { A: { goal: 'drops B' } },
  });
  const result = await runOnce(root);
  t.same(result.done.sort(), ['A', 'B']);
});

t.test("a worker slot's changes that come together go in one write: five quick tasks cost fewer than two slot writes each", async t => {
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, '-e', '0'] } },
    config: { workers: 1 },
    tasks: Object.fromEntries(['A', 'B', 'C', 'D', 'E'].map(id => [id, { goal: id }])),
  });
  const result = await runOnce(root);
  t.equal(result.done.length, 5);
  const slot = JSON.parse(readFileSync(join(root, '.isollm/state/workers/w1.json'), 'utf8')) as { rev: number; status: string };
  t.equal(slot.status, 'stopped');
  // One write per change (the old queue) would be 12: idle at start, busy and idle per task, stopped at
  // the end. The idle of one task and the busy of the next come in the same pass, so they always share
  // a write; how many more share one within WORKER_WRITE_DELAY_MS depends on the machine's speed.
  t.ok(slot.rev < 12, `w1.json written ${slot.rev} times`);
});

t.test('every command carries the session marker: the state dir, the run, and its attempt', async t => {
  const agentEnv = fileURLToPath(new URL('../fixtures/agent-env.mjs', import.meta.url));
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, agentEnv] }, retry: { max_attempts: 1 } },
    tasks: { M1: { goal: 'show the marker' } },
  });
  const result = await runOnce(root);
  t.same(result.done, ['M1']);
  const attempt = record(root, 'M1').attempts[0];
  const seen = JSON.parse(readFileSync(join(root, '.isollm', attempt?.artifacts_dir ?? '', 'stdout.log'), 'utf8')) as { env: Record<string, string> };
  t.match(seen.env, { ORCH_STATE_DIR: join(root, '.isollm'), ORCH_SESSION: result.runId, ORCH_ATTEMPT_ID: `M1/${attempt?.generation}/1` });
});
