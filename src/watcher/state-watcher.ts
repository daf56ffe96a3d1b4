// The watcher (PRODUCT.md §6): the state dir's four places turned into coalesced "look again" hints.
// It decides nothing: the engine is level-triggered and reads the tree itself, so the watcher only has
// to be fast and never stay silent after the last change of a burst.
//
// Two ways of watching, with one contract (specs/watcher.md has the figures):
// - natively (inotify), one bare fs.watch per folder, each event's name a hint, no readdir or stat
//   per event (native-watcher.ts);
// - polling (usePolling, for network filesystems), chokidar's fs.watchFile (polling-watcher.ts).
// A folder whose native watch fails (ENOSPC under load) is polled until it can be watched again.
// Both share the allow-list (classify.ts), the coalescing (hint-queue.ts) and the watching anew of a
// folder removed or replaced (folder-guard.ts).
import type { StatePaths } from '../store/paths.js';
import { watchedPlaces, type Hint } from './classify.js';
import { HintQueue, type HintQueueStats } from './hint-queue.js';
import { watchNatively, type FallbackChange } from './native-watcher.js';
import { DEFAULT_POLL_INTERVAL_MS, pollFolders } from './polling-watcher.js';

export { DEFAULT_POLL_INTERVAL_MS, type FallbackChange };

export interface StateWatcherOptions {
  onHint: (hint: Hint) => void;
  /** A watcher error: events may have been lost, so the caller should look at everything again. */
  onError: (error: unknown) => void;
  /**
   * Natively: a folder switched to polling because its watch failed (`error`), or back to its watch.
   * Called once per switch. Not given: a switch to polling is passed to onError.
   */
  onFallback?: (change: FallbackChange) => void;
  /** fs.watchFile polling, for filesystems inotify cannot see into (NFS, other hosts' writes). */
  usePolling?: boolean;
  /** Polling interval in ms (DEFAULT_POLL_INTERVAL_MS when not given); natively, a polled folder's shortest one. */
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
  const queue = new HintQueue(hint => {
    try {
      options.onHint(hint);
    } catch (error) {
      options.onError(error);
    }
  }, options.maxPending);
  const onError = (error: unknown): void => options.onError(error);
  const watching =
    options.usePolling === true
      ? pollFolders(places, queue, { onError, ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }) })
      : watchNatively(places, queue, {
          onError,
          onFallback: change => {
            if (options.onFallback !== undefined) options.onFallback(change);
            else if (change.polling) options.onError(change.error);
          },
          ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
        });
  let closing: Promise<void> | undefined;
  return {
    ready: watching.ready,
    close() {
      closing ??= (async () => {
        queue.close();
        await watching.close();
      })();
      return closing;
    },
    pendingCount: () => queue.pendingCount(),
    stats: () => queue.stats(),
    recheck: () => watching.recheck(),
  };
}
