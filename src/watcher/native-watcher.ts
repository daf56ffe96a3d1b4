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
//
// A folder whose watch cannot be made or fails (ENOSPC: out of inotify watches under load; EMFILE; an
// error on a live watch) is polled at once (folder-poller.ts), so a file dropped meanwhile is seen
// within a poll, not at the next resync; each poll tries fs.watch again (every NATIVE_RETRY_MS), and
// the folder goes back to its native watch as soon as one can be made. Each switch is told once
// (onFallback), never each failed retry.
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { classifyPath, type WatchedPlaces } from './classify.js';
import { FolderGuard } from './folder-guard.js';
import { pollFolder, type FolderPoller } from './folder-poller.js';
import type { HintQueue } from './hint-queue.js';
import { folderHint, nativeEvent, nativeFolders } from './native-events.js';
import { singleFlight } from './single-flight.js';

/** What watchStateDir needs of a way of watching: the polling one (chokidar) has the same shape. */
export interface FolderWatching {
  ready: Promise<void>;
  recheck(): Promise<void>;
  close(): Promise<void>;
}

/** How often a polled folder tries its native watch again. */
export const NATIVE_RETRY_MS = 1000;

/** A folder switched to polling (its watch failed with `error`) or back to its native watch. */
export interface FallbackChange {
  folder: string;
  polling: boolean;
  error?: unknown;
}

export interface NativeOptions {
  /** Errors that are not a folder's watch (a failed start or recheck). */
  onError: (error: unknown) => void;
  /** Each switch of a folder to polling and back, once each. */
  onFallback: (change: FallbackChange) => void;
  /** The polled folders' shortest interval (FALLBACK_POLL_INTERVAL_MS when not given). */
  pollIntervalMs?: number;
}

const isDirectory = (dir: string): Promise<boolean> => fs.stat(dir).then(s => s.isDirectory(), () => false);

/** Watches the four folders with fs.watch, polling those it cannot; hints go to `queue`. */
export function watchNatively(places: WatchedPlaces, queue: HintQueue, options: NativeOptions): FolderWatching {
  const { onError } = options;
  const folders = nativeFolders(places);
  const guard = new FolderGuard(folders);
  const watches = new Map<string, FSWatcher>();
  /** The folders polled because their watch failed, with when fs.watch was last tried. */
  const polled = new Map<string, { poller: FolderPoller; triedAt: number }>();
  let closed = false;

  const recheckSoon = (): void => {
    recheck().catch(onError);
  };

  const unwatch = (dir: string): void => {
    watches.get(dir)?.close();
    watches.delete(dir);
  };

  /** Opens the native watch of `dir` (active when this returns); throws what fs.watch throws. */
  const openWatch = (dir: string): void => {
    const watcher: FSWatcher = watch(dir, { persistent: true }, (_event, name) => {
      // A replaced folder's old watch may still report (a folder moved away): only the current one counts.
      if (watches.get(dir) !== watcher) return;
      const meaning = nativeEvent(places, dir, name);
      if (meaning.invalidate !== undefined) guard.invalidate(meaning.invalidate);
      if (meaning.recheck) recheckSoon();
      if (meaning.hint !== undefined) queue.add(meaning.hint);
    });
    watcher.on('error', (error: unknown) => {
      // The folder is no longer watched (Node closes the handle before emitting): poll it at once,
      // and check whether it was replaced (then it is watched anew).
      if (watches.get(dir) !== watcher) return;
      unwatch(dir);
      fallBack(dir, error);
      guard.invalidate(dir);
      recheckSoon();
    });
    watches.set(dir, watcher);
    const wasPolled = polled.get(dir);
    if (wasPolled === undefined) return;
    wasPolled.poller.stop();
    polled.delete(dir);
    options.onFallback({ folder: dir, polling: false });
    // What changed between the last poll and the watch is found by the pass this hint starts.
    queue.add(folderHint(places, dir));
  };

  /** Polls `dir` until a native watch of it can be made; told once, however often it fails after. */
  const fallBack = (dir: string, error: unknown): void => {
    if (closed || polled.has(dir)) return;
    const poller = pollFolder(dir, {
      accepts: name => classifyPath(places, join(dir, name)) !== undefined,
      onChange: name => {
        const hint = classifyPath(places, join(dir, name));
        if (hint !== undefined) queue.add(hint);
      },
      afterLook: () => retryWatch(dir),
      ...(options.pollIntervalMs !== undefined && { intervalMs: options.pollIntervalMs }),
    });
    polled.set(dir, { poller, triedAt: Date.now() });
    options.onFallback({ folder: dir, polling: true, error });
    // Once the poll's baseline is taken, what came before it is found by the pass this hint starts.
    void poller.ready.then(() => queue.add(folderHint(places, dir)));
  };

  const retryWatch = (dir: string): void => {
    const entry = polled.get(dir);
    if (closed || entry === undefined || Date.now() - entry.triedAt < NATIVE_RETRY_MS) return;
    entry.triedAt = Date.now();
    try {
      openWatch(dir);
    } catch {
      // Still no watch to be had (or the folder is gone): keep polling, silently.
    }
  };

  /** Watches `dir` natively, or polls it when that fails (ENOSPC, EMFILE, the folder gone). */
  const watchFolder = (dir: string): void => {
    unwatch(dir);
    if (closed) return;
    try {
      openWatch(dir);
    } catch (error) {
      fallBack(dir, error);
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
    await Promise.all([...polled.values()].map(entry => entry.poller.ready));
  })().catch(onError);

  return {
    ready,
    recheck,
    async close() {
      closed = true;
      for (const dir of [...watches.keys()]) unwatch(dir);
      for (const entry of polled.values()) entry.poller.stop();
      polled.clear();
    },
  };
}
