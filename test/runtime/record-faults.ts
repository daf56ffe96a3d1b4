// State files that are broken, replaced or gone (issue 13, items 2 to 4): a run never hangs on them,
// never follows or blocks on them, and the files the engine owns are written back from its copy.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants as fsc, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { doctorProject } from '../../src/project/doctor.js';
import { runOnce, type RunResult } from '../../src/runtime/orchestrator.js';
import { loadDocument } from '../../src/store/load.js';
import { statePaths } from '../../src/store/paths.js';
import { makeProject, writeTask } from '../fixtures/project.js';
import { recordOf, startWatching, testRoot, until, untilRecord } from '../fixtures/watch-helpers.js';

t.jobs = 1;

const recordsDir = (root: string): string => join(root, '.isollm/state/tasks');
const recordFile = (root: string, id: string): string => join(recordsDir(root), `${id}.json`);
const quick = { implement: { command: [process.execPath, '-e', '0'] as [string, ...string[]] } };

/** A command that runs until the file at $GO exists. */
const waitForGo: [string, ...string[]] = [process.execPath, '-e', 'const f=process.env.GO;(function w(){require("fs").existsSync(f)?process.exit(0):setTimeout(w,20)})()'];

/** runOnce, failing the test (instead of hanging it) if the run does not end within `ms`. */
async function runOnceWithin(root: string, ms = 20_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`orch --once did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([runOnce(root, env === undefined ? {} : { env }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A FIFO some reader may be blocked on: a writer opened and closed gives it end of file. */
function unblockFifo(path: string): void {
  try {
    closeSync(openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK));
  } catch {
    // no reader blocked on it, or gone
  }
}

/** Lets a waitForGo command end (its dir may be gone by then). */
function release(go: string): void {
  try {
    writeFileSync(go, '');
  } catch {
    // the test dir is already removed: so is the command's reason to wait
  }
}

const rejectedCopies = (root: string): string[] => readdirSync(recordsDir(root)).filter(name => name.includes('.rejected-'));

t.test('orch --once ends when a task record is torn: the file is reported, kept as it is, and the other tasks run', async t => {
  const root = makeProject(t.testdir(), { workflow: quick, tasks: { T1: { goal: 'first' } } });
  await runOnceWithin(root);
  const torn = readFileSync(recordFile(root, 'T1'), 'utf8').slice(0, 100);
  writeFileSync(recordFile(root, 'T1'), torn);
  writeTask(root, 'T2', { goal: 'second' });
  const result = await runOnceWithin(root);
  t.same(result.done, ['T2']);
  t.equal(readFileSync(recordFile(root, 'T1'), 'utf8'), torn, 'the torn record is not written over');
  const log = readFileSync(result.runLogPath, 'utf8');
  t.match(log, /T1\.json:\d+:\d+: invalid JSON/, 'the torn file is reported with its place');
  t.notMatch(log, /A pass of the orchestrator failed/);
});

t.test('orch --once ends when an inbox file is malformed, and the run log names the file', async t => {
  const root = makeProject(t.testdir(), { workflow: quick, tasks: { T1: { goal: 'first' } } });
  writeFileSync(join(root, '.isollm/inbox/decision.json'), '{"action": ');
  const result = await runOnceWithin(root);
  t.same(result.done, ['T1']);
  t.match(readFileSync(result.runLogPath, 'utf8'), /inbox[/\\]decision\.json:\d+:\d+: invalid JSON/);
  t.ok(existsSync(join(root, '.isollm/inbox/decision.json')), 'the file is kept');
});

t.test('a torn or newer-version worker file is rebuilt by the run, and said once', async t => {
  const root = makeProject(t.testdir(), { workflow: quick, tasks: { T1: { goal: 'first' } } });
  await runOnceWithin(root);
  const workers = join(root, '.isollm/state/workers');
  const good = readFileSync(join(workers, 'w1.json'), 'utf8');
  writeFileSync(join(workers, 'w1.json'), good.slice(0, 40));
  writeFileSync(join(workers, 'w2.json'), good.replace('"version": 1', '"version": 2').replace('"w1"', '"w2"'));
  writeTask(root, 'T2', { goal: 'second' });
  const result = await runOnceWithin(root);
  t.same(result.done.sort(), ['T1', 'T2']);
  for (const name of ['w1', 'w2']) {
    const { doc } = await loadDocument('worker', join(workers, `${name}.json`));
    t.match(doc, { name, status: 'stopped', version: 1 }, `${name}.json loads again`);
  }
  const log = readFileSync(result.runLogPath, 'utf8');
  t.equal(log.match(/A worker file did not load and was rebuilt: .*w1\.json/g)?.length, 1);
  t.match(log, /was rebuilt: .*w2\.json has version 2/);
});

t.test('doctor --fix rewrites a worker file that does not load', async t => {
  const root = makeProject(t.testdir(), { workflow: quick, tasks: { T1: { goal: 'first' } } });
  await runOnceWithin(root);
  const w1 = join(root, '.isollm/state/workers/w1.json');
  writeFileSync(w1, readFileSync(w1, 'utf8').slice(0, 40));
  const report = await doctorProject(statePaths(root), { fix: true });
  t.match(report.problems, [{ kind: 'invalid_file', path: w1, fixable: true, fixed: true }]);
  t.ok(report.healthy);
  t.match((await loadDocument('worker', w1)).doc, { name: 'w1', status: 'stopped' });
  t.ok((await doctorProject(statePaths(root))).healthy, 'healthy when looked at again');
});

/** Watch mode over a project whose T1 runs until `go` exists; resolves once T1's command runs. */
async function runningTask(t: Test): Promise<{ root: string; go: string; ours: TaskRecord }> {
  const root = makeProject(testRoot(t), { workflow: { implement: { command: waitForGo } }, config: { resync_interval_s: 3600 } });
  const go = join(root, 'go');
  t.teardown(() => release(go)); // the command ends, whatever the test did
  await startWatching(t, root, { env: { ...process.env, GO: go } });
  writeTask(root, 'T1', { goal: 'runs until told' });
  const ours = await untilRecord(root, 'T1', 'to run its command', r => r.state === 'IMPLEMENTING' && r.attempts.some(a => a.process !== undefined));
  return { root, go, ours };
}

const runLog = (root: string): string => (existsSync(join(root, 'ORCHESTRATOR_RUN_LOG.md')) ? readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8') : '');

t.test('a record replaced by a FIFO is refused without blocking, reported once, and restored', async t => {
  const { root, go, ours } = await runningTask(t);
  const path = recordFile(root, 'T1');
  t.teardown(() => unblockFifo(path));
  rmSync(path);
  execFileSync('mkfifo', [path]);
  await until('the record to be a regular file again', () => lstatSync(path, { throwIfNoEntry: false })?.isFile() === true);
  t.match(recordOf(root, 'T1'), { state: 'IMPLEMENTING', rev: ours.rev + 1 });
  t.same(rejectedCopies(root), [], 'nothing was copied out');
  writeFileSync(go, '');
  await untilRecord(root, 'T1', 'to be DONE', r => r.state === 'DONE');
  t.equal(runLog(root).match(/Hand edit of the record of task T1 refused/g)?.length, 1, 'reported once');
});

t.test('a record replaced by a symlink: the link is not followed, its target not copied out, the record restored', async t => {
  const { root, go, ours } = await runningTask(t);
  const path = recordFile(root, 'T1');
  const outside = join(root, 'secret.json');
  writeFileSync(outside, JSON.stringify({ ...ours, note: 'SECRET' }));
  chmodSync(outside, 0o600);
  rmSync(path);
  symlinkSync(outside, path);
  await until('the record to be a regular file again', () => lstatSync(path, { throwIfNoEntry: false })?.isFile() === true);
  t.match(recordOf(root, 'T1'), { state: 'IMPLEMENTING', rev: ours.rev + 1 });
  t.same(rejectedCopies(root), [], 'the target was not copied out');
  writeFileSync(go, '');
  await untilRecord(root, 'T1', 'to be DONE', r => r.state === 'DONE');
  t.equal(runLog(root).match(/Hand edit of the record of task T1 refused/g)?.length, 1, 'reported once');
  t.notMatch(readFileSync(path, 'utf8'), /SECRET/);
});

for (const how of ['deleted', 'renamed away'] as const) {
  t.test(`the record of a running task ${how} is restored from the engine's copy, logged, and the task runs on to DONE`, async t => {
    const { root, go, ours } = await runningTask(t);
    const path = recordFile(root, 'T1');
    if (how === 'deleted') rmSync(path);
    else {
      mkdirSync(join(root, 'moved'));
      renameSync(path, join(root, 'moved', 'T1.json'));
    }
    const back = await untilRecord(root, 'T1', 'to be written back', r => r.rev > ours.rev);
    t.match(back, { state: 'IMPLEMENTING', attempts: ours.attempts.map(a => ({ n: a.n })) });
    await until('the run log to say so', () => /The record of task T1 was deleted or moved away: restored/.test(runLog(root)));
    writeFileSync(go, '');
    const done = await untilRecord(root, 'T1', 'to be DONE', r => r.state === 'DONE');
    t.match(done, { created_at: ours.created_at, attempts: [{ n: 1, reason: 'succeeded' }] }, 'the same task and attempt, not a new one');
    t.equal(done.attempts.length, 1);
  });
}

t.test('orch --once: a record deleted while its command runs gets the attempt\'s end all the same', async t => {
  const root = makeProject(t.testdir(), { workflow: { implement: { command: waitForGo } }, tasks: { T1: { goal: 'runs until told' } } });
  const go = join(root, 'go');
  t.teardown(() => release(go));
  const run = runOnceWithin(root, 20_000, { ...process.env, GO: go });
  await untilRecord(root, 'T1', 'to run its command', r => r.attempts.some(a => a.process !== undefined));
  rmSync(recordFile(root, 'T1'));
  writeFileSync(go, '');
  const result = await run;
  t.same(result.done, ['T1']);
  t.match(recordOf(root, 'T1'), { state: 'DONE' });
  t.match(readFileSync(result.runLogPath, 'utf8'), /The record of task T1 was deleted or moved away: restored/);
});
