import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../src/clock.js';
import { TEMP_DIR_NAME, tempFileName, writeFileDurable } from '../../src/store/durable-write.js';
import { recordPath, specPathFor, statePaths, workerPath } from '../../src/store/paths.js';
import { readStartTime } from '../../src/store/process-identity.js';
import { TEMP_MAX_AGE_MS, dropDeadTempLinks, sweepTempFiles, tempFileDirs } from '../../src/store/temp-sweep.js';

/** A child that sleeps until killed (started without tap's NODE_OPTIONS hook: nothing to record). */
async function startSleeper(t: Test): Promise<{ child: ChildProcess; pid: number; startTime: number }> {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the sleeper did not start');
  // `env` execs node in place: wait until the pid runs node, so its start time is final.
  for (const deadline = Date.now() + 10_000; ; await delay(10)) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const startTime = readStartTime(pid);
    if (cmdline.includes('setInterval') && startTime !== undefined) return { child, pid, startTime };
    if (Date.now() > deadline) throw new Error(`sleeper ${pid} did not become node within 10 s`);
  }
}

async function touch(path: string, ageMs = 0): Promise<string> {
  await fs.mkdir(dirname(path), { recursive: true });
  await fs.writeFile(path, 'partial');
  const when = new Date(Date.now() - ageMs);
  await fs.utimes(path, when, when);
  return path;
}

t.test('a temp file of a live writer is kept; one of a dead writer is removed', async t => {
  const dir = t.testdir();
  const tmp = join(dir, TEMP_DIR_NAME);
  const live = await startSleeper(t);
  const dead = await startSleeper(t);
  dead.child.kill('SIGKILL');
  await once(dead.child, 'exit');
  const liveFile = await touch(join(tmp, `rec.json.${live.pid}-${live.startTime}.1.tmp`));
  const ownFile = await touch(join(tmp, tempFileName(join(dir, 'own.json'))));
  const deadFile = await touch(join(tmp, `rec.json.${dead.pid}-${dead.startTime}.1.tmp`));
  const reusedPid = await touch(join(tmp, `rec.json.${live.pid}-${live.startTime + 1}.1.tmp`));
  const result = await sweepTempFiles([dir]);
  t.same(result.removed.sort(), [deadFile, reusedPid].sort(), 'dead writer, and a live pid with another start time (pid reused)');
  t.same(result.kept.sort(), [liveFile, ownFile].sort());
  t.same((await fs.readdir(tmp)).sort(), [liveFile, ownFile].map(f => f.slice(tmp.length + 1)).sort());
});

t.test('a file with an unparseable name goes only once older than maxAge', async t => {
  const dir = t.testdir();
  const tmp = join(dir, TEMP_DIR_NAME);
  const old = await touch(join(tmp, 'editor-swap.tmp'), TEMP_MAX_AGE_MS + 60_000);
  const fresh = await touch(join(tmp, 'fresh.tmp'));
  await fs.mkdir(join(tmp, 'a-dir'));
  const result = await sweepTempFiles([dir]);
  t.same(result.removed, [old]);
  t.same(result.kept, [join(tmp, 'a-dir'), fresh], 'a directory is left alone');
  t.equal(TEMP_MAX_AGE_MS, 60 * 60 * 1000);
});

t.test('maxAgeMs and the clock decide the age, even for a live writer', async t => {
  const dir = t.testdir();
  const tmp = join(dir, TEMP_DIR_NAME);
  const own = await touch(join(tmp, tempFileName(join(dir, 'r.json'))), 5_000);
  t.same((await sweepTempFiles([dir], { maxAgeMs: 60_000 })).kept, [own]);
  const later: Clock = { now: () => Date.now() + 2 * TEMP_MAX_AGE_MS, sleep: async () => undefined };
  t.same((await sweepTempFiles([dir], { clock: later })).removed, [own], 'two hours later by the clock');
  await touch(own, 5_000);
  t.same((await sweepTempFiles([dir], { maxAgeMs: 1_000 })).removed, [own]);
});

t.test('dirs without a temp folder are skipped', async t => {
  const dir = t.testdir({ 'file.json': '{}' });
  t.same(await sweepTempFiles([join(dir, 'missing'), dir, join(dir, 'file.json')]), { removed: [], kept: [] });
});

t.test('tempFileDirs names every dir the store writes into', async t => {
  const root = t.testdir();
  const paths = statePaths(root);
  const summary = join(paths.runs, '2025-12-10T10-30-00-123Z-1a2b', 'summary.json');
  const written = [paths.config, paths.session, recordPath(paths, 't1'), workerPath(paths, 'w1'), join(paths.inbox, 'd1.json'), specPathFor(paths, 't1'), summary];
  for (const file of written) await writeFileDurable(file, '{}');
  const dirs = tempFileDirs(paths); // after the writes: a run's folder exists once the run wrote in it
  for (const file of written) t.ok(dirs.includes(dirname(file)), `${file}: its dir is swept`);
  // Every temp dir the writes created is one the sweeper looks at.
  const tempDirs: string[] = [];
  for (const entry of await fs.readdir(paths.stateDir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory() && entry.name === TEMP_DIR_NAME) tempDirs.push(dirname(join(entry.parentPath, entry.name)));
  }
  t.same(tempDirs.filter(d => !dirs.includes(d)), []);
});

t.test('dropDeadTempLinks removes only a dead writer\'s temp name of the target itself, linked to it', async t => {
  const dir = t.testdir({ 'session.json': '{"n":1}', 'alone.json': '{}' });
  const tmp = join(dir, TEMP_DIR_NAME);
  await fs.mkdir(tmp);
  const target = join(dir, 'session.json');
  const live = await startSleeper(t);
  const dead = await startSleeper(t);
  dead.child.kill('SIGKILL');
  await once(dead.child, 'exit');
  const deadLink = join(tmp, `session.json.${dead.pid}-${dead.startTime}.1.tmp`);
  const liveLink = join(tmp, `session.json.${live.pid}-${live.startTime}.2.tmp`);
  const otherTarget = join(tmp, `xsession.json.${dead.pid}-${dead.startTime}.3.tmp`); // another file's temp name
  const notLinked = await touch(join(tmp, `session.json.${dead.pid}-${dead.startTime}.4.tmp`)); // a leftover, not a link
  for (const link of [deadLink, liveLink, otherTarget]) await fs.link(target, link);
  t.same(await dropDeadTempLinks(target), { removed: [deadLink], pending: [liveLink] });
  t.equal((await fs.stat(target)).nlink, 3, 'the live writer\'s link and the foreign one are kept');
  t.ok(await fs.stat(notLinked), 'a temp file that is not a link of the target is the sweeper\'s business');
  t.same(await dropDeadTempLinks(join(dir, 'alone.json')), { removed: [], pending: [] }, 'one link: nothing to do');
  t.same(await dropDeadTempLinks(join(dir, 'missing.json')), { removed: [], pending: [] });
});
