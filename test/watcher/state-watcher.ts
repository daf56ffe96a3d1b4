// watchStateDir picks the way of watching: bare fs.watch natively (native-watcher.ts), chokidar when
// polling (polling-watcher.ts, with its own unit layer). What both share is tested here.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hint } from '../../src/watcher/classify.js';
import { statePaths } from '../../src/store/paths.js';
import type * as PollingWatcherModule from '../../src/watcher/polling-watcher.js';
import type * as StateWatcherModule from '../../src/watcher/state-watcher.js';
import { SOURCE_EXT } from '../fixtures/source-ext.js';

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after 10 s waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

t.test('natively chokidar is never started; polling, it is', async t => {
  const started: boolean[] = [];
  const watch = (_paths: string[], options: { usePolling?: boolean }): unknown => {
    started.push(options.usePolling === true);
    return Object.assign(new EventEmitter(), { close: async () => undefined });
  };
  const polling = await t.mockImport<typeof PollingWatcherModule>('../../src/watcher/polling-watcher.js', { chokidar: { watch } });
  const mod = await t.mockImport<typeof StateWatcherModule>('../../src/watcher/state-watcher.js', { [`../../src/watcher/polling-watcher${SOURCE_EXT}`]: polling });
  const native = mod.watchStateDir(statePaths(t.testdir()), { onHint: () => undefined, onError: () => undefined });
  t.teardown(() => native.close());
  await native.ready;
  t.same(started, [], 'no chokidar natively');
  const polled = mod.watchStateDir(statePaths(t.testdir()), { onHint: () => undefined, onError: () => undefined, usePolling: true });
  t.teardown(() => polled.close());
  await until('chokidar.watch to be called', () => started.length === 1);
  t.same(started, [true]);
});

t.test('a throwing consumer goes to onError, and the hints after it still come', async t => {
  const paths = statePaths(t.testdir());
  const hints: Hint[] = [];
  const errors: unknown[] = [];
  const watcher = (await import('../../src/watcher/state-watcher.js')).watchStateDir(paths, {
    onHint: hint => {
      hints.push(hint);
      if (hint.id === 'A') throw new Error('consumer failed');
    },
    onError: error => errors.push(error),
  });
  t.teardown(() => watcher.close());
  await watcher.ready;
  writeFileSync(join(paths.tasks, 'A.json'), '{}');
  await until('the hint for A', () => hints.some(h => h.id === 'A'));
  writeFileSync(join(paths.tasks, 'B.json'), '{}');
  await until('the hint for B', () => hints.some(h => h.id === 'B'));
  t.match(errors, [{ message: 'consumer failed' }]);
});

t.test('a watcher closed before it started watches nothing, its ready settles, and close can be called twice', async t => {
  const { watchStateDir } = await import('../../src/watcher/state-watcher.js');
  const handles = (): number => process.getActiveResourcesInfo().filter(name => name === 'FSEventWrap').length;
  const before = handles();
  const early = watchStateDir(statePaths(t.testdir()), { onHint: () => undefined, onError: () => undefined });
  await Promise.all([early.close(), early.close()]);
  await early.ready;
  t.equal(handles(), before, 'no fs.watch was opened');
  t.equal(early.pendingCount(), 0);
});
