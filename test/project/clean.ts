import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attempt, SessionRecord, TaskRecord } from '../../src/generated/types.js';
import { applyClean, cleanState, planClean, planCleanState } from '../../src/project/clean.js';
import { listGroupMembers } from '../../src/runner/process-group.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { statePaths } from '../../src/store/paths.js';
import { identityOf, livenessOf } from '../../src/store/process-identity.js';
import { acquireSession } from '../../src/store/session.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';

const AGENT_SLEEP = fileURLToPath(new URL('../fixtures/agent-sleep.mjs', import.meta.url));
const OLD_RUNS = Array.from({ length: 8 }, (_, i) => `2025-01-0${i + 1}T10-00-00-000Z-00a${i}`);

/** A finished run (WAIT parked in AWAITING_HUMAN, OK done) plus eight old run folders. */
async function projectWithRuns(dir: string): Promise<string> {
  const root = makeProject(dir, {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { max_attempts: 1 }, on_exhausted: 'human' },
    tasks: { WAIT: { goal: 'fails', env: script({ implement: ['fail'] }) }, OK: { goal: 'passes' } },
  });
  await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  for (const run of OLD_RUNS) {
    mkdirSync(join(root, '.isollm/runs', run, 'OK', '001-implement'), { recursive: true });
    writeFileSync(join(root, '.isollm/runs', run, 'OK', '001-implement', 'stdout.log'), 'x'.repeat(100));
  }
  mkdirSync(join(root, '.isollm/runs/notes'));
  return root;
}

const runNames = (root: string): string[] => readdirSync(join(root, '.isollm/runs')).sort();

t.test('clean keeps the N newest runs, the live run, and the run holding an unfinished task\'s last attempt; leftovers go', async t => {
  const root = await projectWithRuns(t.testdir());
  const paths = statePaths(root);
  const recordFile = join(paths.records, 'WAIT.json');
  const wait = JSON.parse(readFileSync(recordFile, 'utf8')) as TaskRecord;
  const realRun = wait.attempts.at(-1)?.run_id ?? '';
  // WAIT's last attempt is said to be in the oldest run: that run must stay for the person reviewing it.
  const attempts: Attempt[] = wait.attempts.map(a => ({ ...a, run_id: OLD_RUNS[0] ?? '' }));
  writeFileSync(recordFile, JSON.stringify({ ...wait, attempts }));
  writeFileSync(join(paths.records, 'WAIT.rejected-2025-01-01T10-00-00Z.json'), '{}');
  writeFileSync(join(paths.inbox, 'd1.consumed.json'), '{}');
  writeFileSync(join(paths.inbox, 'pending.json'), '{}');

  const plan = await planClean(paths, { keep: 3 });
  const removedRuns = plan.remove.filter(i => i.kind === 'run').map(i => i.path.split('/').at(-1)).sort();
  t.same(removedRuns, OLD_RUNS.slice(1, 6), 'all but the 3 newest (the real run and the two latest old ones) and the needed one');
  t.match(plan.keep.find(k => k.path.endsWith(OLD_RUNS[0] ?? '')), { reason: /unfinished task WAIT/ });
  t.ok(plan.keep.some(k => k.path.endsWith(realRun)), 'the newest run is kept');
  t.same(plan.remove.filter(i => i.kind === 'leftover').map(i => i.path.split('/').at(-1)).sort(), ['WAIT.rejected-2025-01-01T10-00-00Z.json', 'd1.consumed.json']);
  t.ok(plan.remove.filter(i => i.kind === 'run').every(i => i.bytes === 100), 'sizes are counted');

  await applyClean(plan);
  t.same(runNames(root), [...[OLD_RUNS[0], OLD_RUNS[6], OLD_RUNS[7]].map(String), realRun, 'notes'].sort());
  t.ok(existsSync(join(paths.inbox, 'pending.json')), 'a decision not yet consumed stays');
  t.ok(existsSync(recordFile) && existsSync(join(paths.tasks, 'WAIT.json')), 'records and specs stay');
});

t.test('clean never removes the run of a live orchestrator, even past --keep', async t => {
  const root = await projectWithRuns(t.testdir());
  const paths = statePaths(root);
  const session = await acquireSession(paths, { runId: OLD_RUNS[0] ?? '' });
  t.teardown(() => session.release());
  const plan = await planClean(paths, { keep: 0 });
  t.match(plan.keep.find(k => k.path === join(paths.runs, OLD_RUNS[0] ?? '')), { reason: /running orchestrator/ });
  t.same(plan.keep.map(k => k.reason.replace(/ WAIT$/, '')).sort(), ['holds the last attempt of unfinished task', 'the running orchestrator writes it']);
  t.equal(plan.remove.filter(i => i.kind === 'run').length, OLD_RUNS.length - 1, 'the 7 other old runs go');
});

t.test('cleanState refuses while a live session holds the dir, and otherwise removes the machine state, stopping orphans first', async t => {
  const root = await projectWithRuns(t.testdir());
  const paths = statePaths(root);
  const before = JSON.parse(readFileSync(paths.session, 'utf8')) as SessionRecord;

  const live = await acquireSession(paths);
  await t.rejects(cleanState(paths), { code: 'ORCH_SESSION_HELD' });
  t.ok(existsSync(join(paths.records, 'OK.json')), 'nothing removed while held');
  await live.release();

  const child = spawn(process.execPath, [AGENT_SLEEP], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
  const pid = child.pid ?? 0;
  t.teardown(() => listGroupMembers(pid).forEach(m => process.kill(m.pid, 'SIGKILL')));
  const identity = { ...(identityOf(pid) ?? { pid, start_time: 0, boot_id: '', host: '' }), pgid: pid };
  const recordFile = join(paths.records, 'WAIT.json');
  const wait = JSON.parse(readFileSync(recordFile, 'utf8')) as TaskRecord;
  writeFileSync(recordFile, JSON.stringify({ ...wait, attempts: [...wait.attempts, { n: 9, phase: 'implement', started_at: new Date().toISOString(), artifacts_dir: 'runs/x', process: identity }] }));

  t.ok((await planCleanState(paths)).length > 0);
  const result = await cleanState(paths, { killGraceMs: 2000 });
  t.same(result.stopped, [{ task: 'WAIT', pgid: pid }]);
  t.equal(livenessOf(identity), 'dead', 'the orphan was stopped before its record went');
  for (const dir of [paths.records, paths.workers, paths.inbox, paths.runs]) t.same(readdirSync(dir), [], `${dir} is empty`);
  t.notOk(existsSync(paths.events));
  t.same(readdirSync(paths.tasks).sort(), ['OK.json', 'WAIT.json'], 'specs stay');
  t.ok(existsSync(paths.config) && existsSync(paths.runLog), 'config and run log stay');
  const after = JSON.parse(readFileSync(paths.session, 'utf8')) as SessionRecord;
  t.equal(after.status, 'stopped');
  t.ok(after.epoch > before.epoch, 'the epoch keeps rising');
  t.same(await planCleanState(paths), []);

  const again = await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  t.same(again.done, ['OK'], 'every task starts over');
  t.equal((JSON.parse(readFileSync(join(paths.records, 'OK.json'), 'utf8')) as TaskRecord).history[0]?.from, 'NEW');
});
