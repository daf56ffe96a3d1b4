// From chokidar's events to paths of ours: pure helpers, tested without a watcher.
import { basename, isAbsolute, join, resolve } from 'node:path';
import { classifyPath, type WatchedPlaces } from './classify.js';

/** The four folders chokidar is given (depth 0: nothing below them). */
export function watchedFolders(places: WatchedPlaces): string[] {
  return [places.tasks, places.inbox, places.records, places.stateDir];
}

function watchedPathOf(details: unknown): string | undefined {
  const watched = (details as { watchedPath?: unknown } | null | undefined)?.watchedPath;
  return typeof watched === 'string' ? resolve(watched) : undefined;
}

/**
 * The path a raw event is about. From a folder's fs.watch, `evPath` is a name in that folder; from a
 * file's own fs.watch (polling mode tracks files) it is the file's name; from fs.watchFile it is the
 * full path and there is no `watchedPath`.
 */
export function rawEventPath(roots: ReadonlySet<string>, evPath: unknown, details: unknown): string | undefined {
  if (typeof evPath !== 'string' || evPath === '') return undefined;
  const watched = watchedPathOf(details);
  if (watched === undefined) return isAbsolute(evPath) ? evPath : undefined;
  return roots.has(watched) ? join(watched, evPath) : watched;
}

/**
 * The watched folder a raw event may be about itself (created, removed or replaced), and whether the
 * event came from that folder's own watcher (IN_DELETE_SELF, IN_MOVE_SELF: its watch is dead) or from
 * its parent's (an entry of that name changed).
 */
export function folderEvent(roots: ReadonlySet<string>, evPath: unknown, details: unknown): { folder: string; self: boolean } | undefined {
  const watched = watchedPathOf(details);
  if (typeof evPath !== 'string' || evPath === '' || watched === undefined) return undefined;
  if (roots.has(watched) && evPath === basename(watched)) return { folder: watched, self: true };
  const child = join(watched, evPath);
  return roots.has(child) ? { folder: child, self: false } : undefined;
}

/**
 * What chokidar itself tracks. Natively: only the four folders (a file's events come from its folder's
 * watcher). Polling: the allowed files too, since polling a file is the only way to see it change in place.
 */
export function ignoredFor(places: WatchedPlaces, usePolling: boolean): (path: string, stats?: { isDirectory(): boolean }) => boolean {
  const roots = new Set(watchedFolders(places));
  return (path, stats) => {
    const full = resolve(path);
    if (roots.has(full)) return false;
    if (!usePolling || stats?.isDirectory() === true) return true;
    return classifyPath(places, full) === undefined;
  };
}
