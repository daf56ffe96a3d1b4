// Polling mode's unit layer: chokidar replaced through t.mockImport, so events are exact and instant.
// (Natively there is no chokidar: test/watcher/native-watcher.ts, on real fs.watch.)
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hint } from '../../src/watcher/classify.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import type * as PollingWatcherModule from '../../src/watcher/polling-watcher.js';
import type * as StateWatcherModule from '../../src/watcher/state-watcher.js';
import { SOURCE_EXT } from '../fixtures/source-ext.js';

type Ignored = (path: string, stats?: { isDirectory(): boolean }) => boolean;

class FakeWatcher extends EventEmitter {
  readonly paths: string[];
  readonly options: Record<string, unknown>;
  closed = false;
  readonly unwatched: string[] = [];
  constructor(paths: string[], options: Record<string, unknown>) {
    super();
    this.paths = paths;
    this.options = options;
  }
  get ignored(): Ignored {
    return this.options.ignored as Ignored;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.removeAllListeners();
  }
  async unwatch(path: string): Promise<void> {
    this.unwatched.push(path);
  }
}

interface Harness {
  paths: StatePaths;
  hints: Hint[];
  errors: unknown[];
  /** The first chokidar instance, once watchStateDir has made it. */
  fake(): Promise<FakeWatcher>;
  /** Every chokidar instance made so far (a folder watched anew gets one of its own). */
  created: FakeWatcher[];
  watcher: ReturnType<typeof StateWatcherModule.watchStateDir>;
}

const POLL_MS = 10;
const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after 10 s waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

/** watchStateDir with chokidar replaced: mocks apply to the module loaded, so polling-watcher is loaded with it first. */
async function withChokidar(t: Test, watch: (paths: string[], options: Record<string, unknown>) => unknown): Promise<typeof StateWatcherModule> {
  const polling = await t.mockImport<typeof PollingWatcherModule>('../../src/watcher/polling-watcher.js', { chokidar: { watch } });
  return t.mockImport<typeof StateWatcherModule>('../../src/watcher/state-watcher.js', { [`../../src/watcher/polling-watcher${SOURCE_EXT}`]: polling });
}

async function harness(t: Test, options: { maxPending?: number; onHint?: (hint: Hint) => void } = {}): Promise<Harness> {
  const created: FakeWatcher[] = [];
  const mod = await withChokidar(t, (paths, opts) => {
    const fake = new FakeWatcher(paths, opts);
    created.push(fake);
    return fake;
  });
  const paths = statePaths(t.testdir());
  const hints: Hint[] = [];
  const errors: unknown[] = [];
  const watcher = mod.watchStateDir(paths, {
    onHint: options.onHint ?? (hint => hints.push(hint)),
    onError: error => errors.push(error),
    usePolling: true,
    pollIntervalMs: POLL_MS,
    ...(options.maxPending !== undefined && { maxPending: options.maxPending }),
  });
  t.teardown(() => watcher.close());
  const fake = async (): Promise<FakeWatcher> => {
    await until('chokidar.watch to be called', () => created.length > 0);
    return created[0] as FakeWatcher;
  };
  return { paths, hints, errors, fake, watcher, created };
}

t.test('chokidar polls the four places, with no initial scan events, no write-finish wait and no unlink delay', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  t.same(fake.paths.sort(), [h.paths.stateDir, h.paths.tasks, h.paths.inbox, h.paths.records].sort());
  t.equal(fake.options.ignoreInitial, true);
  t.equal(fake.options.awaitWriteFinish, undefined);
  t.equal(fake.options.atomic, false);
  t.equal(fake.options.depth, 0);
  t.equal(fake.options.usePolling, true);
  t.equal(fake.options.interval, POLL_MS);
});

t.test('polling, chokidar tracks the four folders and the allowed files in them, nothing else', async t => {
  const dir = { isDirectory: () => true };
  const file = { isDirectory: () => false };
  const h = await harness(t);
  const polling = await h.fake();
  const { paths } = h;
  for (const root of [paths.tasks, paths.inbox, paths.records, paths.stateDir]) t.equal(polling.ignored(root, dir), false, `${root} is polled`);
  t.equal(polling.ignored(join(paths.tasks, 'A.json'), file), false, 'a spec is polled');
  t.equal(polling.ignored(join(paths.tasks, 'A.json')), false, 'also when asked without stats');
  t.equal(polling.ignored(paths.config, file), false);
  for (const name of ['.A.json.swp', 'A.json~', '4913', 'A.json.lock', 'A.json___jb_tmp___']) {
    t.equal(polling.ignored(join(paths.tasks, name), file), true, `${name} is not polled`);
  }
  t.equal(polling.ignored(join(paths.records, '.orch-tmp'), dir), true, 'no subfolder is entered');
  t.equal(polling.ignored(join(paths.stateDir, 'runs'), dir), true);
  t.equal(polling.ignored(join(paths.stateDir, 'events.jsonl'), file), true);
});

t.test('add, change and unlink, and the raw events of each poll, become hints of their kind; ignored names give none', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  const spec = join(h.paths.tasks, 'A.json');
  fake.emit('all', 'add', spec);
  fake.emit('all', 'change', join(h.paths.records, 'A.json'));
  fake.emit('all', 'unlink', join(h.paths.inbox, 'd1.json'));
  fake.emit('all', 'change', h.paths.config);
  for (const name of ['.A.json.swp', 'A.json~', '4913', 'A.json___jb_tmp___', 'x.tmp', 'A.json.lock']) fake.emit('all', 'add', join(h.paths.tasks, name));
  fake.emit('all', 'add', join(h.paths.records, 'A.rejected-2025-01-01T00-00-00-000Z.json'));
  fake.emit('all', 'change', join(h.paths.stateDir, 'events.jsonl'));
  await turn();
  t.same(h.hints, [
    { kind: 'spec', id: 'A', path: spec },
    { kind: 'record', id: 'A', path: join(h.paths.records, 'A.json') },
    { kind: 'inbox', id: 'd1', path: join(h.paths.inbox, 'd1.json') },
    { kind: 'config', path: h.paths.config },
  ]);
  fake.emit('raw', 'change', spec, { curr: {}, prev: {} }); // fs.watchFile: the full path, no watchedPath
  await turn();
  fake.emit('raw', 'change', 'relative.json', { curr: {}, prev: {} });
  fake.emit('raw', 'change', null, { curr: {}, prev: {} });
  await turn();
  t.same(h.hints.slice(4).map(x => x.path), [spec], 'a raw poll event is a hint even when chokidar throttles its change');
});

t.test('a burst of events for one path is one hint; an event after delivery is another', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  const spec = join(h.paths.tasks, 'A.json');
  for (let i = 0; i < 5000; i++) {
    fake.emit('raw', 'change', spec, { curr: {}, prev: {} });
    fake.emit('all', 'change', spec);
  }
  fake.emit('all', 'add', join(h.paths.tasks, 'B.json'));
  t.equal(h.watcher.pendingCount(), 2, 'pending is kept by path, not by event');
  await turn();
  t.same(h.hints.map(x => x.id), ['A', 'B']);
  t.match(h.watcher.stats(), { offered: 10_001, delivered: 2, highWater: 2, pending: 0 });
  fake.emit('all', 'change', spec);
  await turn();
  t.same(h.hints.map(x => x.id), ['A', 'B', 'A']);
});

t.test('the pending set is bounded under a storm of distinct files', async t => {
  const h = await harness(t, { maxPending: 100 });
  const fake = await h.fake();
  for (let i = 0; i < 5000; i++) fake.emit('all', 'add', join(h.paths.tasks, `T${i}.json`));
  t.ok(h.watcher.pendingCount() <= 101, `pending ${h.watcher.pendingCount()}`);
  await turn();
  t.equal(h.hints.length, 101);
  t.same(h.hints.at(-1), { kind: 'spec', path: h.paths.tasks }, 'the rest collapse into one hint for the tasks folder');
});

t.test('a chokidar error and a throwing consumer go to onError', async t => {
  const h = await harness(t, {
    onHint: () => {
      throw new Error('consumer failed');
    },
  });
  const fake = await h.fake();
  fake.emit('error', Object.assign(new Error('too many open files'), { code: 'EMFILE' }));
  fake.emit('all', 'change', join(h.paths.tasks, 'A.json'));
  await turn();
  t.match(h.errors, [{ code: 'EMFILE' }, { message: 'consumer failed' }]);
});

t.test('ready comes two intervals after chokidar ready; close closes chokidar and drops pending hints', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  let ready = false;
  void h.watcher.ready.then(() => (ready = true));
  await turn();
  t.equal(ready, false, 'not ready before chokidar is');
  fake.emit('ready');
  // Polled by a ref'd timer: the settling wait's timer is unref'd, and the fake keeps nothing alive.
  await until('ready, two intervals after chokidar ready', () => ready);
  fake.emit('all', 'change', join(h.paths.tasks, 'A.json'));
  await h.watcher.close();
  t.equal(fake.closed, true);
  await turn();
  t.same(h.hints, [], 'the pending hint was dropped');
  await h.watcher.close();
});

t.test('a watcher closed before it started never starts, and its ready settles', async t => {
  const created: unknown[] = [];
  const mod = await withChokidar(t, () => created.push(1));
  const watcher = mod.watchStateDir(statePaths(t.testdir()), { onHint: () => undefined, onError: () => undefined, usePolling: true });
  await watcher.close();
  await watcher.ready;
  for (let i = 0; i < 20; i++) await turn();
  t.equal(created.length, 0);
});

t.test('the folders are created when missing, so they can be watched', async t => {
  const h = await harness(t);
  await h.fake();
  for (const dir of [h.paths.tasks, h.paths.inbox, h.paths.records]) t.ok(statSync(dir).isDirectory(), dir);
});

t.test('a watched folder replaced on disk is watched anew, and its folder hint comes once that watch is ready', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  fake.emit('ready');
  let ready = false;
  void h.watcher.ready.then(() => (ready = true));
  await until('ready', () => ready);
  const fresh = join(h.paths.stateDir, 'fresh');
  mkdirSync(fresh);
  rmSync(h.paths.tasks, { recursive: true });
  renameSync(fresh, h.paths.tasks); // a new inode at the same path
  fake.emit('all', 'unlinkDir', h.paths.tasks);
  await until('a chokidar instance for the new tasks folder', () => h.created.length === 2);
  const second = h.created[1] as FakeWatcher;
  t.same(fake.unwatched, [h.paths.tasks], 'the old watch is dropped from the first instance');
  t.same(second.paths, [h.paths.tasks]);
  for (let i = 0; i < 20; i++) await turn();
  t.same(h.hints, [], 'no folder hint before the new watch is ready');
  second.emit('ready');
  await until('the folder hint', () => h.hints.length === 1);
  t.same(h.hints, [{ kind: 'spec', path: h.paths.tasks }]);
  second.emit('all', 'add', join(h.paths.tasks, 'A.json'));
  await until('a hint from the new instance', () => h.hints.length === 2);
  await h.watcher.recheck();
  t.equal(h.created.length, 2, 'nothing changed since: nothing is watched anew');
  // Replaced once more: this time the instance of its own is closed.
  rmSync(h.paths.tasks, { recursive: true });
  mkdirSync(h.paths.tasks); // often the same inode number, maybe the same birth time: the event decides
  second.emit('all', 'unlinkDir', h.paths.tasks);
  await until('a third instance', () => h.created.length === 3);
  t.equal(second.closed, true);
  (h.created[2] as FakeWatcher).emit('ready');
  await until('a second folder hint', () => h.hints.length === 3);
  await h.watcher.close();
  t.equal((h.created[2] as FakeWatcher).closed, true, 'close closes every instance');
  t.equal(fake.closed, true);
});

t.test('a removed inbox gets a folder hint and no watch; once it is back it is watched anew', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  rmSync(h.paths.inbox, { recursive: true });
  fake.emit('all', 'unlinkDir', h.paths.inbox);
  await until('a hint for the inbox folder', () => h.hints.length === 1);
  t.same(h.hints, [{ kind: 'inbox', path: h.paths.inbox }]);
  t.same(fake.unwatched, [h.paths.inbox]);
  t.equal(h.created.length, 1, 'a missing folder is not watched');
  mkdirSync(h.paths.inbox);
  fake.emit('all', 'addDir', h.paths.inbox); // seen by the poll of its parent
  await until('the inbox to be watched anew', () => h.created.length === 2);
  t.same((h.created[1] as FakeWatcher).paths, [h.paths.inbox]);
});
