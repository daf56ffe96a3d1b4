// A folder whose native watch fails (PRODUCT.md §6; ENOSPC when inotify runs out of watches under
// load) is polled at once, so a file dropped meanwhile is seen within a poll, not at the next resync
// (an hour here), and the folder goes back to its native watch once one can be made; the run log says
// each switch once. Two layers: the built orch in a user namespace whose inotify watch limit is 0 (a
// real ENOSPC, raised again from outside with nsenter), and fs.watch replaced at the native watcher's
// boundary (t.mockImport) by one that fails on demand; files, folders and processes are real in both.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as realFs from 'node:fs';
import { existsSync, readFileSync, type FSWatcher } from 'node:fs';
import { ORCH_BIN } from '../fixtures/run-cli.js';
import { dropSpec, goalProject, goalRuns, untilRecord, until } from '../fixtures/watch-helpers.js';
import { SOURCE_EXT } from '../fixtures/source-ext.js';

t.jobs = 1;

/** Found well within this or not at all: the resync is an hour away. */
const BOUND_MS = 10_000;

function textOf(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

/** watchAndWork over a native watcher whose fs.watch fails for the folders in `failing`. */
async function watchModeWithFailingWatch(t: Test) {
  const failing = new Set<string>();
  const calls = new Map<string, number>();
  const live = new Map<string, FSWatcher>();
  const watch = ((dir: string, ...rest: unknown[]) => {
    calls.set(dir, (calls.get(dir) ?? 0) + 1);
    if (failing.has(dir)) {
      throw Object.assign(new Error(`ENOSPC: System limit for number of file watchers reached, watch '${dir}'`), { code: 'ENOSPC', errno: -28, syscall: 'watch', path: dir });
    }
    const watcher = (realFs.watch as (...args: unknown[]) => FSWatcher)(dir, ...rest);
    live.set(dir, watcher);
    return watcher;
  }) as typeof realFs.watch;
  const native = await t.mockImport<typeof import('../../src/watcher/native-watcher.js')>('../../src/watcher/native-watcher.js', {
    'node:fs': { ...realFs, watch },
  });
  const stateWatcher = await t.mockImport<typeof import('../../src/watcher/state-watcher.js')>('../../src/watcher/state-watcher.js', {
    [`../../src/watcher/native-watcher${SOURCE_EXT}`]: native,
  });
  const mod = await t.mockImport<typeof import('../../src/runtime/watch-mode.js')>('../../src/runtime/watch-mode.js', {
    [`../../src/watcher/state-watcher${SOURCE_EXT}`]: stateWatcher,
  });
  return { mod, failing, calls, live };
}

/**
 * Watch mode over `root` with a first task, WARM, found by the start's full passes and run to DONE:
 * once it is, only a hint (or a poll) can find a new spec. Stopped at teardown.
 */
async function startWarm(t: Test, mod: Awaited<ReturnType<typeof watchModeWithFailingWatch>>['mod'], root: string, log: string) {
  dropSpec(root, 'WARM', { goal: 'there at the start' });
  const orch = await mod.watchAndWork(root, { env: { ...process.env, GOAL_LOG: log } });
  t.teardown(async () => {
    orch.stop('test over');
    await orch.done;
  });
  await orch.watcherReady;
  await untilRecord(root, 'WARM', 'to be DONE (the start\'s full passes are over)', r => r.state === 'DONE', BOUND_MS);
  return orch;
}

const POLLING = /\*\*watcher\*\*: Watcher error on \.isollm\/tasks\/, polling it until it can be watched again: ENOSPC/;
const NATIVE_AGAIN = /\*\*watcher\*\*: \.isollm\/tasks\/ is watched natively again/;

t.test('tasks/ cannot be watched at start (ENOSPC): a spec dropped then runs within a poll, not at the resync; said once; watched natively again once it can be', async t => {
  const { mod, failing, calls } = await watchModeWithFailingWatch(t);
  const { root, log } = goalProject(t); // resync_interval_s: 3600
  const tasks = `${root}/.isollm/tasks`;
  failing.add(tasks);
  const orch = await startWarm(t, mod, root, log);
  const dropped = Date.now();
  dropSpec(root, 'POLLED', { goal: 'seen by the poll' });
  await untilRecord(root, 'POLLED', 'to be DONE, found by polling tasks/', r => r.state === 'DONE', BOUND_MS);
  t.comment(`found and done ${Date.now() - dropped} ms after the drop (resync every 3600 s)`);
  // fs.watch is tried again each second while polling; the failures are not told again.
  await until('fs.watch to be tried on tasks/ twice more', () => (calls.get(tasks) ?? 0) >= 3, BOUND_MS);
  t.equal(count(textOf(orch.paths.runLog), POLLING), 1, 'the switch to polling is said once');

  failing.delete(tasks);
  await until('the run log to say tasks/ is watched natively again', () => NATIVE_AGAIN.test(textOf(orch.paths.runLog)), BOUND_MS);
  dropSpec(root, 'NATIVE', { goal: 'seen by the watch' });
  await untilRecord(root, 'NATIVE', 'to be DONE, found by the native watch', r => r.state === 'DONE', BOUND_MS);
  t.same(goalRuns(log).map(run => run.id), ['WARM', 'POLLED', 'NATIVE']);
  t.equal(count(textOf(orch.paths.runLog), NATIVE_AGAIN), 1);
});

t.test('a live watch of tasks/ fails while no new one can be made: the folder is polled at once and a dropped spec runs', async t => {
  const { mod, failing, live } = await watchModeWithFailingWatch(t);
  const { root, log } = goalProject(t);
  const tasks = `${root}/.isollm/tasks`;
  const orch = await startWarm(t, mod, root, log);
  const watcher = live.get(tasks);
  if (watcher === undefined) throw new Error('tasks/ is not watched');
  failing.add(tasks);
  watcher.emit('error', Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' }));
  const dropped = Date.now();
  dropSpec(root, 'AFTER_ERROR', { goal: 'seen by the poll' });
  await untilRecord(root, 'AFTER_ERROR', 'to be DONE, found by polling tasks/', r => r.state === 'DONE', BOUND_MS);
  t.comment(`found and done ${Date.now() - dropped} ms after the drop`);
  t.equal(count(textOf(orch.paths.runLog), POLLING), 1, 'the switch to polling is said once');
  failing.delete(tasks);
  await until('the run log to say tasks/ is watched natively again', () => NATIVE_AGAIN.test(textOf(orch.paths.runLog)), BOUND_MS);
});

t.test('for real: orch in a user namespace with no inotify watches to be had polls every folder, runs a dropped spec, and watches natively once the limit is raised', async t => {
  const limit = '/proc/sys/user/max_inotify_watches';
  const probe = spawnSync('unshare', ['-U', '-r', 'sh', '-c', `echo 0 > ${limit}`]);
  if (probe.status !== 0) {
    t.comment(`skipped: a user namespace with its own inotify limit is not allowed here (${probe.stderr.toString().trim()})`);
    return;
  }
  const { root, log } = goalProject(t); // resync_interval_s: 3600
  dropSpec(root, 'WARM', { goal: 'there at the start' });
  let output = '';
  const orch = spawn('unshare', ['-U', '-r', 'sh', '-c', `echo 0 > ${limit} && exec "$0" "$@"`, process.execPath, ORCH_BIN], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '', GOAL_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  orch.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  orch.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise(resolve => orch.once('exit', resolve));
  t.teardown(async () => {
    orch.kill('SIGTERM');
    await exited;
  });
  const runLog = `${root}/ORCHESTRATOR_RUN_LOG.md`;
  await untilRecord(root, 'WARM', 'to be DONE', r => r.state === 'DONE', BOUND_MS);
  await until(() => `the run log to say tasks/ is polled (output: ${output.slice(-2000)})`, () => POLLING.test(textOf(runLog)), BOUND_MS);
  const dropped = Date.now();
  dropSpec(root, 'POLLED', { goal: 'seen by the poll' });
  await untilRecord(root, 'POLLED', 'to be DONE, found by polling tasks/', r => r.state === 'DONE', BOUND_MS);
  t.comment(`found and done ${Date.now() - dropped} ms after the drop (resync every 3600 s)`);

  if (orch.pid === undefined) throw new Error('orch did not start');
  const raised = spawnSync('nsenter', ['-U', '-t', String(orch.pid), 'sh', '-c', `echo 100 > ${limit}`]);
  t.equal(raised.status, 0, `the limit raised inside orch's namespace ${raised.stderr.toString()}`);
  await until('the run log to say tasks/ is watched natively again', () => NATIVE_AGAIN.test(textOf(runLog)), BOUND_MS);
  dropSpec(root, 'NATIVE', { goal: 'seen by the watch' });
  await untilRecord(root, 'NATIVE', 'to be DONE', r => r.state === 'DONE', BOUND_MS);
  // Each folder tries its native watch again on its own clock: on a loaded machine tasks/ (waited for
  // above) can be back and its spec done before the other three are.
  const back = /is watched natively again/;
  await until(() => `all four folders to be watched natively again (run log: ${textOf(runLog).slice(-2000)})`, () => count(textOf(runLog), back) >= 4, BOUND_MS);
  const text = textOf(runLog);
  t.equal(count(text, POLLING), 1, 'tasks/ going to polling is said once');
  t.equal(count(text, /polling it until it can be watched again/), 4, 'each of the four folders said once');
  t.equal(count(text, back), 4, 'and each back once');
});
