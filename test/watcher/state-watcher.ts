// The unit layer: chokidar replaced through t.mockImport, so events are exact and instant.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Hint } from '../../src/watcher/classify.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import type * as StateWatcherModule from '../../src/watcher/state-watcher.js';

type Ignored = (path: string, stats?: { isDirectory(): boolean }) => boolean;

class FakeWatcher extends EventEmitter {
  readonly paths: string[];
  readonly options: Record<string, unknown>;
  closed = false;
  readonly unwatched: string[] = [];
  readonly added: string[] = [];
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
  add(path: string): this {
    this.added.push(path);
    return this;
  }
}

interface Harness {
  mod: typeof StateWatcherModule;
  paths: StatePaths;
  hints: Hint[];
  errors: unknown[];
  fake(): Promise<FakeWatcher>;
  /** Every chokidar instance made so far (a folder watched anew gets one of its own). */
  created: FakeWatcher[];
  watcher: ReturnType<typeof StateWatcherModule.watchStateDir>;
}

const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

async function harness(t: Test, options: { usePolling?: boolean; maxPending?: number; onHint?: (hint: Hint) => void } = {}): Promise<Harness> {
  const created: FakeWatcher[] = [];
  const mod = await t.mockImport<typeof StateWatcherModule>('../../src/watcher/state-watcher.js', {
    chokidar: {
      watch: (paths: string[], opts: Record<string, unknown>) => {
        const fake = new FakeWatcher(paths, opts);
        created.push(fake);
        return fake;
      },
    },
  });
  const paths = statePaths(t.testdir());
  const hints: Hint[] = [];
  const errors: unknown[] = [];
  const watcher = mod.watchStateDir(paths, {
    onHint: options.onHint ?? (hint => hints.push(hint)),
    onError: error => errors.push(error),
    ...(options.usePolling !== undefined && { usePolling: options.usePolling }),
    ...(options.maxPending !== undefined && { maxPending: options.maxPending }),
  });
  t.teardown(() => watcher.close());
  const fake = async (): Promise<FakeWatcher> => {
    const deadline = Date.now() + 10_000;
    while (created.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 2));
    const first = created[0];
    if (first === undefined) throw new Error('timed out after 10 s waiting for chokidar.watch to be called');
    return first;
  };
  return { mod, paths, hints, errors, fake, watcher, created };
}

t.test('chokidar is asked for the four places, with no initial scan events, no write-finish wait and no unlink delay', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  t.same(fake.paths.sort(), [h.paths.stateDir, h.paths.tasks, h.paths.inbox, h.paths.records].sort());
  t.equal(fake.options.ignoreInitial, true);
  t.equal(fake.options.awaitWriteFinish, undefined);
  t.equal(fake.options.atomic, false);
  t.equal(fake.options.depth, 0);
  t.equal(fake.options.usePolling, false);
});

t.test('natively chokidar tracks the folders only; polling, it tracks the allowed files too', async t => {
  const dir = { isDirectory: () => true };
  const file = { isDirectory: () => false };
  const native = await (await harness(t)).fake();
  const polled = await harness(t, { usePolling: true });
  const polling = await polled.fake();
  const { paths } = polled;
  for (const root of [paths.tasks, paths.inbox, paths.records, paths.stateDir]) {
    t.equal(native.ignored(root, dir), false, `${root} is watched natively`);
    t.equal(polling.ignored(root, dir), false, `${root} is watched when polling`);
  }
  t.equal(native.ignored(join(paths.tasks, 'A.json'), file), true, 'natively a spec is seen through its folder');
  t.equal(polling.ignored(join(paths.tasks, 'A.json'), file), false, 'polling, a spec is polled');
  t.equal(polling.ignored(join(paths.tasks, 'A.json')), false, 'also when asked without stats');
  t.equal(polling.ignored(paths.config, file), false);
  for (const name of ['.A.json.swp', 'A.json~', '4913', 'A.json.lock', 'A.json___jb_tmp___']) {
    t.equal(polling.ignored(join(paths.tasks, name), file), true, `${name} is not polled`);
  }
  t.equal(polling.ignored(join(paths.records, '.orch-tmp'), dir), true, 'no subfolder is entered');
  t.equal(polling.ignored(join(paths.stateDir, 'runs'), dir), true);
  t.equal(polling.ignored(join(paths.stateDir, 'events.jsonl'), file), true);
});

t.test('raw events from a folder watcher become hints of their kind, with ids; ignored names give none', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  const raw = (dir: string, name: string, event = 'change'): boolean => fake.emit('raw', event, name, { watchedPath: dir });
  raw(h.paths.tasks, 'A.json', 'rename');
  raw(h.paths.records, 'A.json');
  raw(h.paths.inbox, 'd1.json', 'rename');
  raw(h.paths.stateDir, 'config.json');
  for (const name of ['.A.json.swp', '.A.json.swx', 'A.json~', '4913', '.#A.json', 'A.json___jb_tmp___', 'A.json___jb_old___', 'x.tmp', 'A.json.lock', '.orch-tmp']) {
    raw(h.paths.tasks, name, 'rename');
    raw(h.paths.records, name, 'rename');
  }
  raw(h.paths.records, 'A.rejected-2025-01-01T00-00-00-000Z.json', 'rename');
  raw(h.paths.stateDir, 'events.jsonl');
  raw(h.paths.stateDir, 'tasks', 'rename');
  await turn();
  t.same(h.hints, [
    { kind: 'spec', id: 'A', path: join(h.paths.tasks, 'A.json') },
    { kind: 'record', id: 'A', path: join(h.paths.records, 'A.json') },
    { kind: 'inbox', id: 'd1', path: join(h.paths.inbox, 'd1.json') },
    { kind: 'config', path: h.paths.config },
  ]);
});

t.test('a burst of events for one path is one hint; an event after delivery is another', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  for (let i = 0; i < 5000; i++) {
    fake.emit('raw', 'change', 'A.json', { watchedPath: h.paths.tasks });
    fake.emit('all', 'change', join(h.paths.tasks, 'A.json'));
  }
  fake.emit('raw', 'rename', 'B.json', { watchedPath: h.paths.tasks });
  t.equal(h.watcher.pendingCount(), 2, 'pending is kept by path, not by event');
  await turn();
  t.same(h.hints.map(x => x.id), ['A', 'B']);
  t.match(h.watcher.stats(), { offered: 10_001, delivered: 2, highWater: 2, pending: 0 });
  fake.emit('raw', 'change', 'A.json', { watchedPath: h.paths.tasks });
  await turn();
  t.same(h.hints.map(x => x.id), ['A', 'B', 'A']);
});

t.test('normalized events (polling mode) and raw events from a file watcher or fs.watchFile give the same hints', async t => {
  const h = await harness(t, { usePolling: true });
  const fake = await h.fake();
  const spec = join(h.paths.tasks, 'A.json');
  fake.emit('all', 'add', spec);
  await turn();
  fake.emit('raw', 'change', 'A.json', { watchedPath: spec }); // the file's own fs.watch
  await turn();
  fake.emit('raw', 'change', spec, { curr: {}, prev: {} }); // fs.watchFile: the full path, no watchedPath
  await turn();
  fake.emit('raw', 'change', 'relative.json', { curr: {}, prev: {} });
  fake.emit('raw', 'change', null, { watchedPath: h.paths.tasks });
  fake.emit('all', 'unlink', join(h.paths.tasks, '.A.json.swp'));
  await turn();
  t.same(h.hints.map(x => x.path), [spec, spec, spec]);
});

t.test('the pending set is bounded under a storm of distinct files', async t => {
  const h = await harness(t, { maxPending: 100 });
  const fake = await h.fake();
  for (let i = 0; i < 5000; i++) fake.emit('raw', 'rename', `T${i}.json`, { watchedPath: h.paths.tasks });
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
  fake.emit('error', Object.assign(new Error('inotify watch limit reached'), { code: 'ENOSPC' }));
  fake.emit('raw', 'change', 'A.json', { watchedPath: h.paths.tasks });
  await turn();
  t.match(h.errors, [{ code: 'ENOSPC' }, { message: 'consumer failed' }]);
});

t.test('ready follows chokidar ready; close closes chokidar and drops pending hints', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  let ready = false;
  void h.watcher.ready.then(() => (ready = true));
  await turn();
  t.equal(ready, false, 'not ready before chokidar is');
  fake.emit('ready');
  await h.watcher.ready;
  fake.emit('raw', 'change', 'A.json', { watchedPath: h.paths.tasks });
  await h.watcher.close();
  t.equal(fake.closed, true);
  await turn();
  t.same(h.hints, [], 'the pending hint was dropped');
  await h.watcher.close();
});

t.test('a watcher closed before it started never starts, and its ready settles', async t => {
  const created: unknown[] = [];
  const mod = await t.mockImport<typeof StateWatcherModule>('../../src/watcher/state-watcher.js', {
    chokidar: { watch: () => created.push(1) },
  });
  const watcher = mod.watchStateDir(statePaths(t.testdir()), { onHint: () => undefined, onError: () => undefined });
  await watcher.close();
  await watcher.ready;
  for (let i = 0; i < 20; i++) await turn();
  t.equal(created.length, 0);
});

t.test('the folders are created when missing, so they can be watched', async t => {
  const h = await harness(t);
  await h.fake();
  const { statSync } = await import('node:fs');
  for (const dir of [h.paths.tasks, h.paths.inbox, h.paths.records]) t.ok(statSync(dir).isDirectory(), dir);
});

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after 10 s waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

t.test('a watched folder replaced on disk is watched anew, and its folder hint comes once that watch is ready', async t => {
  const h = await harness(t);
  const fake = await h.fake();
  fake.emit('ready');
  await h.watcher.ready;
  const { mkdirSync, renameSync, rmSync } = await import('node:fs');
  const fresh = join(h.paths.stateDir, 'fresh');
  mkdirSync(fresh);
  rmSync(h.paths.tasks, { recursive: true });
  renameSync(fresh, h.paths.tasks); // a new inode at the same path
  fake.emit('raw', 'rename', 'tasks', { watchedPath: h.paths.tasks }); // IN_MOVE_SELF / IN_DELETE_SELF
  await until('a chokidar instance for the new tasks folder', () => h.created.length === 2);
  const second = h.created[1] as FakeWatcher;
  t.same(fake.unwatched, [h.paths.tasks], 'the old watch is dropped from the first instance');
  t.same(second.paths, [h.paths.tasks]);
  for (let i = 0; i < 20; i++) await turn();
  t.same(h.hints, [], 'no folder hint before the new watch is ready');
  second.emit('ready');
  await until('the folder hint', () => h.hints.length === 1);
  t.same(h.hints, [{ kind: 'spec', path: h.paths.tasks }]);
  second.emit('raw', 'change', 'A.json', { watchedPath: h.paths.tasks });
  await until('a hint from the new instance', () => h.hints.length === 2);
  await h.watcher.recheck();
  t.equal(h.created.length, 2, 'nothing changed since: nothing is watched anew');
  // Replaced once more: this time the instance of its own is closed.
  rmSync(h.paths.tasks, { recursive: true });
  mkdirSync(h.paths.tasks); // often the same inode number, maybe the same birth time: the event decides
  second.emit('raw', 'rename', 'tasks', { watchedPath: h.paths.tasks });
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
  const { mkdirSync, rmSync } = await import('node:fs');
  rmSync(h.paths.inbox, { recursive: true });
  fake.emit('all', 'unlinkDir', h.paths.inbox);
  await until('a hint for the inbox folder', () => h.hints.length === 1);
  t.same(h.hints, [{ kind: 'inbox', path: h.paths.inbox }]);
  t.same(fake.unwatched, [h.paths.inbox]);
  t.equal(h.created.length, 1, 'a missing folder is not watched');
  mkdirSync(h.paths.inbox);
  fake.emit('raw', 'rename', 'inbox', { watchedPath: h.paths.stateDir }); // seen by its parent's watcher
  await until('the inbox to be watched anew', () => h.created.length === 2);
  t.same((h.created[1] as FakeWatcher).paths, [h.paths.inbox]);
});
