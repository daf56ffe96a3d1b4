// Native mode on real fs.watch (inotify): one watch per folder, a hint per event's name. What chokidar
// did per event (a readdir and an lstat per entry) is gone; its cost is in bench/watcher-latency.ts.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { statePaths } from '../../src/store/paths.js';
import { writeFileDurable } from '../../src/store/durable-write.js';
import { waitFor } from '../fixtures/wait-for.js';
import { watchLive } from '../fixtures/live-watcher.js';

t.jobs = 1;

const run = promisify(execFile);

function watchHandles(): number {
  return process.getActiveResourcesInfo().filter(name => name === 'FSEventWrap').length;
}

t.test('one fs.watch per folder, all open once ready, all closed by close()', async t => {
  const before = watchHandles();
  const w = await watchLive(t);
  t.equal(watchHandles() - before, 4, 'tasks/, inbox/, state/tasks/ and the state dir');
  await w.watcher.close();
  await waitFor('the watch handles to be released', () => watchHandles() === before);
  await w.watcher.close();
});

t.test("a record written the engine's way (temp file in .orch-tmp, renamed in) is one record hint; the temp file none", async t => {
  const w = await watchLive(t);
  const record = join(w.paths.records, 'A.json');
  await writeFileDurable(record, '{"rev":1}');
  await w.hintFor(record);
  await writeFileDurable(record, '{"rev":2}');
  await waitFor('a second record hint', () => w.hints.filter(h => h.path === record).length === 2);
  t.same(new Set(w.hints.map(h => h.path)), new Set([record]), 'nothing but the record');
});

t.test('config.json saved by rename (a new inode each time) gives a hint each time: the state dir is watched, not the file', async t => {
  const w = await watchLive(t);
  for (let i = 0; i < 3; i++) {
    const before = w.hints.length;
    const temp = join(w.paths.stateDir, `.config.json.${i}`);
    writeFileSync(temp, `{"workers":${i + 1}}`);
    renameSync(temp, w.paths.config);
    await w.hintFor(w.paths.config, before);
  }
  t.same(new Set(w.hints.map(h => h.kind)), new Set(['config']));
});

t.test('a folder moved away: its old watch says nothing more, and the new folder at the path is watched', async t => {
  const w = await watchLive(t);
  const old = join(w.paths.stateDir, 'tasks.old');
  renameSync(w.paths.tasks, old);
  mkdirSync(w.paths.tasks);
  await waitFor('a hint for the new tasks folder', () => w.hints.some(h => h.path === w.paths.tasks));
  const before = w.hints.length;
  writeFileSync(join(old, 'OLD.json'), '{}');
  writeFileSync(join(w.paths.tasks, 'NEW.json'), '{}');
  await w.hintFor(join(w.paths.tasks, 'NEW.json'), before);
  t.notOk(w.hints.some(h => h.path === join(w.paths.tasks, 'OLD.json')), 'the moved folder is no longer taken for tasks/');
  t.same(w.errors, []);
});

t.test('a removed records folder is announced by its own watch; once back, the next recheck watches it anew', async t => {
  const w = await watchLive(t);
  rmSync(w.paths.records, { recursive: true });
  await waitFor('a hint for the records folder', () => w.hints.some(h => h.path === w.paths.records));
  mkdirSync(w.paths.records); // state/ is not watched: nothing announces this
  let before = w.hints.length;
  await w.watcher.recheck();
  await w.hintFor(w.paths.records, before);
  before = w.hints.length;
  writeFileSync(join(w.paths.records, 'R.json'), '{}');
  await w.hintFor(join(w.paths.records, 'R.json'), before);
  t.same(w.errors, []);
});

t.test('a storm of 1,500 renames into a folder of 1,000 files: every file is covered by a hint, and the pending set stays bounded', async t => {
  const w = await watchLive(t);
  for (let i = 0; i < 1000; i++) writeFileSync(join(w.paths.records, `OLD${i}.json`), '{}');
  await waitFor('the hints for the files already there', () => w.hints.some(h => h.path === join(w.paths.records, 'OLD999.json') || h.path === w.paths.records));
  const before = w.hints.length;
  const staging = join(w.paths.records, '.orch-tmp');
  mkdirSync(staging);
  for (let i = 0; i < 1500; i++) writeFileSync(join(staging, `N${i}.tmp`), '{}');
  for (let i = 0; i < 1500; i++) renameSync(join(staging, `N${i}.tmp`), join(w.paths.records, `N${i}.json`));
  const covered = (path: string): boolean => w.hints.slice(before).some(h => h.path === path || h.path === w.paths.records);
  await waitFor('a hint covering the last file', () => covered(join(w.paths.records, 'N1499.json')));
  const missing = Array.from({ length: 1500 }, (_, i) => join(w.paths.records, `N${i}.json`)).filter(p => !covered(p));
  t.same(missing, [], 'no file without a hint of its own or one for its folder');
  t.ok(w.watcher.stats().highWater <= 1003, `high water ${w.watcher.stats().highWater}`);
  t.notOk(w.hints.some(h => h.path.includes('.orch-tmp')), 'no hint for the temp files');
});

// Out of inotify watches, for real: a child in a user namespace of its own, where the limit is
// lowered to 2 watches (/proc/sys/user/max_inotify_watches is per user namespace).
function namespaceProblem(): string | undefined {
  try {
    execFileSync('unshare', ['-Ur', 'sh', '-c', 'echo 2 > /proc/sys/user/max_inotify_watches'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `no user namespace with an inotify limit of its own here (unshare -Ur): ${error instanceof Error ? error.message : String(error)}`;
  }
}
const NO_NAMESPACE = namespaceProblem();

const CHILD = `
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const { watchStateDir } = await import(process.env.WATCHER);
const { statePaths } = await import(process.env.PATHS);
const until = async (check) => { const end = Date.now() + 10000; while (!check()) { if (Date.now() > end) throw new Error('timed out'); await new Promise(r => setTimeout(r, 5)); } };
writeFileSync('/proc/sys/user/max_inotify_watches', '2');
const paths = statePaths(process.env.ROOT);
const hints = [];
const errors = [];
const watcher = watchStateDir(paths, { onHint: h => hints.push(h.path), onError: e => errors.push(e.code) });
await watcher.ready;
writeFileSync(join(paths.tasks, 'A.json'), '{}');
await until(() => hints.includes(join(paths.tasks, 'A.json')));
const errorsAtStart = [...errors];
writeFileSync('/proc/sys/user/max_inotify_watches', '100');
await watcher.recheck();
writeFileSync(join(paths.records, 'R.json'), '{}');
await until(() => hints.includes(join(paths.records, 'R.json')));
await watcher.close();
console.log(JSON.stringify({ errorsAtStart, hints }));
`;

t.test('out of inotify watches: ENOSPC goes to onError, the folders watched still hint, and a recheck watches the rest', { ...(NO_NAMESPACE !== undefined && { skip: NO_NAMESPACE }) }, async t => {
  const root = t.testdir();
  const { stdout } = await run('unshare', ['-Ur', process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      ROOT: root,
      WATCHER: fileURLToPath(new URL('../../src/watcher/state-watcher.ts', import.meta.url)),
      PATHS: fileURLToPath(new URL('../../src/store/paths.ts', import.meta.url)),
    },
  });
  const { errorsAtStart, hints } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { errorsAtStart: string[]; hints: string[] };
  const paths = statePaths(root);
  t.same(errorsAtStart, ['ENOSPC', 'ENOSPC'], 'state/tasks/ and the state dir could not be watched');
  t.ok(hints.includes(join(paths.tasks, 'A.json')), 'tasks/ was watched');
  t.ok(hints.includes(paths.records) && hints.includes(paths.config), 'the recheck watched the two others, each with a hint for all it holds');
  t.ok(hints.includes(join(paths.records, 'R.json')), 'state/tasks/ is watched now');
});
