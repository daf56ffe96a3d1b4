// The watcher (PRODUCT.md §6): chokidar over the state dir's four places, turned into coalesced
// "look again" hints. It decides nothing: the engine is level-triggered and reads the tree itself, so
// the watcher only has to be fast and never stay silent after the last change of a burst.
//
// Three choices, each measured or read in chokidar's source (specs/watcher.md has the figures):
// - Natively (inotify) chokidar watches only the four folders, not each file: by default it stats
//   every file and opens one fs.watch per file (5.8 s and 400 MB for 100,000 specs, against about
//   2 s and 100 MB for the folders alone). A folder's own watcher already reports every create, write,
//   rename and delete of a file in it, by name, through chokidar's `raw` event.
// - Hints come from `raw` events, which chokidar passes on as they come. Its `change` events are
//   throttled (a second change within 50 ms is dropped, not delayed: chokidar issues #1084, #1455),
//   which would lose the last write of a burst, the one that matters.
// - No `awaitWriteFinish` (it holds every event back for its stability threshold) and `atomic: false`
//   (it holds every unlink back 100 ms): a half-written or briefly missing file is the engine's call
//   (it waits for content to settle, and gives a deleted spec a grace), with no fixed wait here.
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import type { StatePaths } from '../store/paths.js';
import { classifyPath, watchedPlaces, type Hint, type HintKind } from './classify.js';
import { folderEvent, ignoredFor, rawEventPath, watchedFolders } from './chokidar-events.js';
import { FolderGuard } from './folder-guard.js';
import { HintQueue, type HintQueueStats } from './hint-queue.js';

/** chokidar's polling interval when none is given. */
export const DEFAULT_POLL_INTERVAL_MS = 100;

export interface StateWatcherOptions {
  onHint: (hint: Hint) => void;
  /** A watcher error: events may have been lost, so the caller should look at everything again. */
  onError: (error: unknown) => void;
  /** fs.watchFile polling, for filesystems inotify cannot see into (NFS, other hosts' writes). */
  usePolling?: boolean;
  /** Polling interval in ms (chokidar's default is 100). */
  pollIntervalMs?: number;
  /** Most distinct pending paths before they collapse into folder hints (MAX_PENDING_HINTS). */
  maxPending?: number;
}

export interface StateWatcher {
  /** Resolves once the folders are watched (or the watcher was closed first); polling, two intervals later. */
  ready: Promise<void>;
  close(): Promise<void>;
  /** Hints waiting for delivery: bounded by distinct paths, whatever the number of events. */
  pendingCount(): number;
  stats(): HintQueueStats;
  /**
   * Checks that each watched folder is still the one watched; a folder removed or replaced is
   * watched anew, and once that watch is up it gets a hint for the whole folder (what arrived before
   * is found by the pass the hint starts). Runs by itself on the events that announce such a change;
   * call it on each resync too (a replaced records folder has no watched parent to announce it).
   */
  recheck(): Promise<void>;
}

/** Watches the tasks folder, the inbox, the records folder and config.json; hints go to `onHint`. */
export function watchStateDir(paths: StatePaths, options: StateWatcherOptions): StateWatcher {
  const places = watchedPlaces(paths);
  const roots = new Set(watchedFolders(places));
  const usePolling = options.usePolling === true;
  const guarded: Record<string, HintKind> = { [places.tasks]: 'spec', [places.inbox]: 'inbox', [places.records]: 'record' };
  const guard = new FolderGuard(Object.keys(guarded));
  const queue = new HintQueue(hint => {
    try {
      options.onHint(hint);
    } catch (error) {
      options.onError(error);
    }
  }, options.maxPending);
  const chokidarOptions: ChokidarOptions = {
    ignoreInitial: true, // the engine's first pass reads the initial state
    depth: 0,
    atomic: false,
    followSymlinks: false,
    usePolling,
    ...(options.pollIntervalMs !== undefined && { interval: options.pollIntervalMs, binaryInterval: options.pollIntervalMs }),
    ignored: ignoredFor(places, usePolling),
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
   * Polling, a change is seen against the first stat of each poll, which lands some time after
   * chokidar is ready: a file created in between would be the baseline, never a change. Two intervals
   * later the baselines are surely taken, and the hint that follows readiness has the engine look at
   * everything (a one-time wait at start, never per event). inotify watches start in the call itself.
   */
  const settle = (): Promise<void> =>
    usePolling ? new Promise(done => setTimeout(done, 2 * (options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS)).unref()) : Promise.resolve();

  /** Starts chokidar on `dirs`; `ready` resolves once its fs.watch handles are set (or it is closed). */
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

  const recheckOnce = async (): Promise<void> => {
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
  };
  // One recheck at a time (two at once would both watch a changed folder anew); a call during one
  // joins it, and it runs once more.
  let rechecking: Promise<void> | undefined;
  let recheckAgain = false;
  function recheck(): Promise<void> {
    if (rechecking !== undefined) {
      recheckAgain = true;
      return rechecking;
    }
    rechecking = (async () => {
      try {
        do {
          recheckAgain = false;
          await recheckOnce();
        } while (recheckAgain && !closed);
      } finally {
        // Cleared in the same step as the last check of recheckAgain: a .finally() callback would
        // come a microtask later, and a call in between would join a run that is already over.
        rechecking = undefined;
      }
    })();
    return rechecking;
  }

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
    async close() {
      if (closed) return;
      closed = true;
      queue.close();
      owners.clear();
      await Promise.all([...instances.keys()].map(shut));
    },
    pendingCount: () => queue.pendingCount(),
    stats: () => queue.stats(),
    recheck,
  };
}
