// Native mode (inotify): one bare, non-recursive fs.watch per folder (tasks/, inbox/, state/tasks/ and
// the state dir for config.json), each event's name turned into a hint with no readdir and no stat.
//
// Why not chokidar here (measured, specs/watcher.md): on every event in a folder chokidar re-reads
// that whole folder (readdirp with an lstat per entry) to find what changed. The engine's own record
// writes (temp file in state/tasks/.orch-tmp renamed into state/tasks/) are such events, so with
// 10,000 records each write cost about 0.2 s of CPU, and with 100,000 about 1.7 s, with the libuv
// threadpool full of lstats that the engine's own reads queue behind. inotify already names the entry;
// the engine is level-triggered and reads the files itself, so the name is all a hint needs.
//
// inotify overflow: when the kernel's queue overflows (fs.inotify.max_queued_events) it drops events
// and queues one IN_Q_OVERFLOW, which libuv, and so fs.watch, never reports. Nothing extra is done
// here: the engine's periodic resync (PRODUCT.md §6, resync_interval_s) compares the whole tree, so
// whatever was lost converges within one interval.
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import type { WatchedPlaces } from './classify.js';
import { FolderGuard } from './folder-guard.js';
import type { HintQueue } from './hint-queue.js';
import { folderHint, nativeEvent, nativeFolders } from './native-events.js';
import { singleFlight } from './single-flight.js';

/** What watchStateDir needs of a way of watching: the polling one (chokidar) has the same shape. */
export interface FolderWatching {
  ready: Promise<void>;
  recheck(): Promise<void>;
  close(): Promise<void>;
}

const isDirectory = (dir: string): Promise<boolean> => fs.stat(dir).then(s => s.isDirectory(), () => false);

/** Watches the four folders with fs.watch; hints go to `queue`, errors to `onError`. */
export function watchNatively(places: WatchedPlaces, queue: HintQueue, onError: (error: unknown) => void): FolderWatching {
  const folders = nativeFolders(places);
  const guard = new FolderGuard(folders);
  const watches = new Map<string, FSWatcher>();
  let closed = false;

  const recheckSoon = (): void => {
    recheck().catch(onError);
  };

  const unwatch = (dir: string): void => {
    watches.get(dir)?.close();
    watches.delete(dir);
  };

  /** Watches `dir` (its watch is active when this returns); a failure is reported and retried at the next recheck. */
  const watchFolder = (dir: string): void => {
    unwatch(dir);
    if (closed) return;
    try {
      const watcher: FSWatcher = watch(dir, { persistent: true }, (_event, name) => {
        // A replaced folder's old watch may still report (a folder moved away): only the current one counts.
        if (watches.get(dir) !== watcher) return;
        const meaning = nativeEvent(places, dir, name);
        if (meaning.invalidate !== undefined) guard.invalidate(meaning.invalidate);
        if (meaning.recheck) recheckSoon();
        if (meaning.hint !== undefined) queue.add(meaning.hint);
      });
      watcher.on('error', (error: unknown) => {
        // Node has closed the handle before emitting: the folder is no longer watched. Watch it anew.
        if (watches.get(dir) === watcher) watches.delete(dir);
        onError(error);
        guard.invalidate(dir);
        recheckSoon();
      });
      watches.set(dir, watcher);
    } catch (error) {
      // ENOSPC (out of inotify watches), or the folder gone since it was checked: the caller's full
      // pass covers what this folder would have said, and the next recheck (each resync) tries again.
      onError(error);
      guard.invalidate(dir);
    }
  };

  const recheck = singleFlight(
    async () => {
      for (const dir of await guard.changed()) {
        if (closed) return;
        unwatch(dir);
        if (await isDirectory(dir)) watchFolder(dir);
        if (closed) return;
        // The watch is up (inotify watches start in the call): anything that came before it is found
        // by the pass this hint starts.
        queue.add(folderHint(places, dir));
      }
    },
    () => closed,
  );

  const ready = (async () => {
    // A folder that does not exist cannot be watched: create the (empty) folders orch init would.
    await Promise.all([places.tasks, places.inbox, places.records].map(dir => fs.mkdir(dir, { recursive: true })));
    await guard.remember();
    for (const dir of folders) watchFolder(dir);
  })().catch(onError);

  return {
    ready,
    recheck,
    async close() {
      closed = true;
      for (const dir of [...watches.keys()]) unwatch(dir);
    },
  };
}
