// Polling mode: chokidar's fs.watchFile on the four folders and on each allowed file, for what inotify
// cannot see (network filesystems, a state dir shared by orch processes on several hosts). fs.watch
// cannot poll, so chokidar stays here; natively the watcher is bare fs.watch (native-watcher.ts).
//
// Two choices, read in chokidar's source (specs/watcher.md has the figures):
// - Hints come from `raw` events too, which chokidar passes on as they come. Its `change` events are
//   throttled (a second change within 50 ms is dropped, not delayed: chokidar issues #1084, #1455),
//   which would lose the last write of a burst, the one that matters.
// - No `awaitWriteFinish` (it holds every event back for its stability threshold) and `atomic: false`
//   (it holds every unlink back 100 ms): a half-written or briefly missing file is the engine's call
//   (it waits for content to settle, and gives a deleted spec a grace), with no fixed wait here.
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import { classifyPath, type HintKind, type WatchedPlaces } from './classify.js';
import { folderEvent, ignoredFor, rawEventPath, watchedFolders } from './chokidar-events.js';
import { FolderGuard } from './folder-guard.js';
import type { HintQueue } from './hint-queue.js';
import type { FolderWatching } from './native-watcher.js';
import { singleFlight } from './single-flight.js';

/** chokidar's polling interval when none is given. */
export const DEFAULT_POLL_INTERVAL_MS = 100;

export interface PollingOptions {
  onError: (error: unknown) => void;
  pollIntervalMs?: number;
}

/** Polls the four folders and the allowed files in them with chokidar; hints go to `queue`. */
export function pollFolders(places: WatchedPlaces, queue: HintQueue, options: PollingOptions): FolderWatching {
  const roots = new Set(watchedFolders(places));
  const guarded: Record<string, HintKind> = { [places.tasks]: 'spec', [places.inbox]: 'inbox', [places.records]: 'record' };
  const guard = new FolderGuard(Object.keys(guarded));
  const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const chokidarOptions: ChokidarOptions = {
    ignoreInitial: true, // the engine's first pass reads the initial state
    depth: 0,
    atomic: false,
    followSymlinks: false,
    usePolling: true,
    interval,
    binaryInterval: interval,
    ignored: ignoredFor(places, true),
  };
  /** Which chokidar instance watches each guarded folder: the first one, or one opened to watch it anew. */
  const owners = new Map<string, FSWatcher>();
  /** Each open instance, with what settles its open() (when it is closed before it was ready). */
  const instances = new Map<FSWatcher, () => void>();
  let first: FSWatcher | undefined;
  let closed = false;

  const offer = (path: string | undefined): void => {
    if (path === undefined) return;
    const hint = classifyPath(places, path);
    if (hint !== undefined) queue.add(hint);
  };
  const recheckSoon = (): void => {
    recheck().catch((error: unknown) => options.onError(error));
  };

  /**
   * A change is seen against the first stat of each poll, which lands some time after chokidar is
   * ready: a file created in between would be the baseline, never a change. Two intervals later the
   * baselines are surely taken, and the hint that follows readiness has the engine look at everything
   * (a one-time wait at start, never per event).
   */
  const settle = (): Promise<void> => new Promise(done => setTimeout(done, 2 * interval).unref());

  /** Starts chokidar on `dirs`; `ready` resolves once its first polls are set (or it is closed). */
  const open = (dirs: string[]): { instance: FSWatcher; ready: Promise<void> } => {
    const instance = watch(dirs, chokidarOptions);
    for (const dir of dirs) if (dir in guarded) owners.set(dir, instance);
    const ready = new Promise<void>(done => {
      instances.set(instance, done);
      instance.on('raw', (_event: string, evPath: unknown, details: unknown) => {
        const about = folderEvent(roots, evPath, details);
        if (about !== undefined) {
          if (about.self) guard.invalidate(about.folder);
          recheckSoon();
        }
        offer(rawEventPath(roots, evPath, details));
      });
      instance.on('all', (event: string, path: string) => {
        if ((event === 'addDir' || event === 'unlinkDir') && roots.has(resolve(path))) {
          if (event === 'unlinkDir') guard.invalidate(resolve(path));
          recheckSoon();
        }
        offer(path);
      });
      instance.on('error', (error: unknown) => {
        options.onError(error);
        recheckSoon();
      });
      instance.on('ready', () => done());
    });
    return { instance, ready };
  };

  const shut = async (instance: FSWatcher): Promise<void> => {
    instances.get(instance)?.();
    instances.delete(instance);
    await instance.close();
  };

  /** Stops watching `dir` where it was watched: the first instance drops it, one of its own closes. */
  const release = async (dir: string): Promise<void> => {
    const owner = owners.get(dir);
    owners.delete(dir);
    if (owner === undefined) return;
    if (owner === first) await owner.unwatch(dir);
    else await shut(owner);
  };

  const recheck = singleFlight(
    async () => {
      for (const dir of await guard.changed()) {
        if (closed) return;
        await release(dir);
        const present = await fs.stat(dir).then(s => s.isDirectory(), () => false);
        if (present && !closed) {
          await open([dir]).ready;
          await settle();
        }
        queue.add({ kind: guarded[dir] ?? 'spec', path: dir });
      }
    },
    () => closed,
  );

  const ready = (async () => {
    // A folder that does not exist cannot be watched: create the (empty) folders orch init would.
    await Promise.all(Object.keys(guarded).map(dir => fs.mkdir(dir, { recursive: true })));
    await guard.remember();
    if (closed) return;
    const opened = open([...roots]);
    first = opened.instance;
    await opened.ready;
    await settle();
  })().catch((error: unknown) => options.onError(error));

  return {
    ready,
    recheck,
    async close() {
      if (closed) return;
      closed = true;
      owners.clear();
      await Promise.all([...instances.keys()].map(shut));
    },
  };
}
