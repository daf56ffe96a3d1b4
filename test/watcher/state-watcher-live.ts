// The integration layer: real fs.watch (natively) and real chokidar (polling) on real files. Each
// test waits for `ready`, then for the specific hint, with a timeout that says what it waited for.
import t from 'tap';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MAX_PENDING_HINTS } from '../../src/watcher/hint-queue.js';
import { statePaths } from '../../src/store/paths.js';
import { waitFor } from '../fixtures/wait-for.js';
import { watchLive } from '../fixtures/live-watcher.js';

t.jobs = 1;

const STORM = fileURLToPath(new URL('../fixtures/watch-storm.mjs', import.meta.url));
const run = promisify(execFile);


t.test('a spec renamed into tasks/ gives a spec hint at once', async t => {
  const w = await watchLive(t);
  const temp = join(w.paths.stateDir, 'draft');
  writeFileSync(temp, '{"goal":"x"}');
  renameSync(temp, join(w.paths.tasks, 'A.json'));
  await w.hintFor(join(w.paths.tasks, 'A.json'));
  t.same(w.hints, [{ kind: 'spec', id: 'A', path: join(w.paths.tasks, 'A.json') }], 'one save, one hint');
});

t.test('a write right after a hint gives another hint: the last write of a burst is never dropped', async t => {
  // chokidar's own `change` event drops a second change of a file within 50 ms (issues #1084, #1455).
  const w = await watchLive(t);
  const spec = join(w.paths.tasks, 'A.json');
  writeFileSync(spec, '{"goal":"0"}');
  await w.hintFor(spec);
  for (let i = 1; i <= 10; i++) {
    const before = w.hints.length;
    writeFileSync(spec, `{"goal":"${i}"}`);
    await w.hintFor(spec, before);
  }
  t.pass('every write after a delivered hint was hinted again');
});

t.test('editor, lock and temp files give no hint; records, inbox and config.json do', async t => {
  const w = await watchLive(t);
  const { tasks, records, inbox, stateDir } = w.paths;
  for (const name of ['.A.json.swp', '.A.json.swx', 'A.json~', '4913', 'A.json___jb_tmp___', 'A.json___jb_old___', 'x.tmp', 'notes.md']) writeFileSync(join(tasks, name), 'x');
  mkdirSync(join(records, 'A.json.lock'));
  mkdirSync(join(records, '.orch-tmp'), { recursive: true });
  writeFileSync(join(records, '.orch-tmp', 'A.json.1-2.3.tmp'), 'x');
  writeFileSync(join(records, 'A.rejected-2025-01-01T00-00-00-000Z.json'), '{}');
  appendFileSync(join(stateDir, 'events.jsonl'), '{}\n');
  mkdirSync(join(tasks, 'sub'));
  writeFileSync(join(tasks, 'sub', 'B.json'), '{}');
  // The sentinels: events come in order, so once their hints are in, the ignored ones have been seen.
  writeFileSync(join(records, 'A.json'), '{}');
  writeFileSync(join(inbox, 'd1.json'), '{}');
  writeFileSync(w.paths.config, '{"workers":1}');
  await w.hintFor(join(records, 'A.json'));
  await w.hintFor(join(inbox, 'd1.json'));
  await w.hintFor(w.paths.config);
  t.same(new Set(w.hints.map(h => `${h.kind}:${h.id ?? '-'}`)), new Set(['record:A', 'inbox:d1', 'config:-']));
});

t.test('a deleted spec gives a hint at once (no 100 ms unlink delay)', async t => {
  const w = await watchLive(t);
  const spec = join(w.paths.tasks, 'A.json');
  writeFileSync(spec, '{}');
  await w.hintFor(spec);
  const before = w.hints.length;
  rmSync(spec);
  await w.hintFor(spec, before);
  t.pass();
});

t.test('a tasks folder removed and created again, or replaced by a rename, is watched again', async t => {
  const w = await watchLive(t);
  rmSync(w.paths.tasks, { recursive: true });
  await w.hintFor(w.paths.tasks);
  let before = w.hints.length;
  mkdirSync(w.paths.tasks);
  await w.hintFor(w.paths.tasks, before);
  before = w.hints.length;
  writeFileSync(join(w.paths.tasks, 'A.json'), '{}');
  await w.hintCovering(join(w.paths.tasks, 'A.json'), before);
  const replacement = join(w.paths.stateDir, 'checkout');
  mkdirSync(replacement);
  writeFileSync(join(replacement, 'B.json'), '{}');
  before = w.hints.length;
  rmSync(w.paths.tasks, { recursive: true });
  renameSync(replacement, w.paths.tasks);
  await w.hintFor(w.paths.tasks, before); // B.json came with the folder: the folder hint covers it
  before = w.hints.length;
  writeFileSync(join(w.paths.tasks, 'C.json'), '{}');
  await w.hintCovering(join(w.paths.tasks, 'C.json'), before);
  t.same(w.errors, []);
});

t.test('polling mode sees a new file, an in-place edit of a file that was there before, and a deletion', async t => {
  const paths = statePaths(t.testdir());
  const spec = join(paths.tasks, 'OLD.json');
  mkdirSync(paths.tasks, { recursive: true });
  writeFileSync(spec, '{"goal":"before"}');
  const w = await watchLive(t, { usePolling: true });
  writeFileSync(join(w.paths.tasks, 'NEW.json'), '{"goal":"new"}');
  await w.hintFor(join(w.paths.tasks, 'NEW.json'));
  let before = w.hints.length;
  writeFileSync(spec, '{"goal":"after, and longer"}');
  await w.hintFor(spec, before);
  before = w.hints.length;
  rmSync(spec);
  await w.hintFor(spec, before);
  t.same(w.errors, []);
});

t.test('a storm of 10,000 rewrites of one spec: the pending set stays at one, and the last hint sees the last content', async t => {
  let sawFinal = false;
  let target = '';
  const w = await watchLive(t, {
    onHint: hint => {
      if (hint.path === target && readFileSync(target, 'utf8').includes('FINAL')) sawFinal = true;
    },
  });
  target = join(w.paths.tasks, 'A.json');
  writeFileSync(target, '{}');
  await w.hintFor(target);
  await run(process.execPath, [STORM, 'rewrite', target, '10000', 'FINAL']);
  await waitFor('a hint for A.json after which it reads the final content', () => sawFinal);
  const stats = w.watcher.stats();
  t.ok(stats.highWater <= 2, `at most ${stats.highWater} hints were ever pending`);
  t.ok(stats.delivered < stats.offered, `${stats.offered} events became ${stats.delivered} hints`);
  t.comment(`10,000 rewrites: ${stats.offered} events offered, ${stats.delivered} hints delivered, high water ${stats.highWater}`);
});

t.test('a storm of 5,000 new specs: the pending set stays bounded, and every file is covered by a hint', async t => {
  const w = await watchLive(t);
  await run(process.execPath, [STORM, 'create', w.paths.tasks, '5000']);
  const last = join(w.paths.tasks, 'S4999.json');
  await waitFor('a hint covering the last file', () => w.hints.some(h => h.path === last || h.path === w.paths.tasks));
  const named = new Set(w.hints.map(h => h.path));
  const folderHint = named.has(w.paths.tasks);
  const missing = Array.from({ length: 5000 }, (_, i) => join(w.paths.tasks, `S${i}.json`)).filter(p => !named.has(p));
  t.ok(folderHint || missing.length === 0, `${missing.length} files without a hint of their own, folder hint: ${folderHint}`);
  const stats = w.watcher.stats();
  t.ok(stats.highWater <= MAX_PENDING_HINTS + 3, `high water ${stats.highWater}`);
  t.comment(`5,000 new files: ${stats.offered} events offered, ${stats.delivered} hints delivered, high water ${stats.highWater}`);
});
