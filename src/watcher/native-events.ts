// From one bare fs.watch event to what it means: pure, tested without a watcher. An event names an
// entry of the watched folder (inotify gives the name, never the content), and that name is all that
// is used: no readdir, no stat. The engine reads the files itself, so a hint is only "look again".
import { basename, join, sep } from 'node:path';
import { classifyPath, type Hint, type WatchedPlaces } from './classify.js';

/** The four folders watched natively: one non-recursive fs.watch each. */
export function nativeFolders(places: WatchedPlaces): string[] {
  return [places.tasks, places.inbox, places.records, places.stateDir];
}

/** "Look at everything in `folder`": the hint for a folder watched anew or an event with no name. */
export function folderHint(places: WatchedPlaces, folder: string): Hint {
  if (folder === places.stateDir) return { kind: 'config', path: places.config };
  if (folder === places.inbox) return { kind: 'inbox', path: folder };
  if (folder === places.records) return { kind: 'record', path: folder };
  return { kind: 'spec', path: folder };
}

export interface NativeEventMeaning {
  /** The hint to queue, if any. */
  hint?: Hint;
  /** A watched folder (or one of its parents) may have been created, removed or replaced: check them. */
  recheck: boolean;
  /** The watched folder whose watch reported itself deleted or moved (its watch is dead). */
  invalidate?: string;
}

/**
 * What an fs.watch event from `folder` means. `name` is the entry's name; for an event about the
 * folder itself (IN_DELETE_SELF, IN_MOVE_SELF) libuv gives the folder's own name; null means
 * "something changed here" (Node documents that the name may be missing).
 */
export function nativeEvent(places: WatchedPlaces, folder: string, name: string | Buffer | null | undefined): NativeEventMeaning {
  if (typeof name !== 'string' || name === '') return { hint: folderHint(places, folder), recheck: true };
  const path = join(folder, name);
  // An entry that is, or holds, a watched folder: tasks/ or inbox/ in the state dir (or state/,
  // which holds the records folder). A rename or removal of it leaves that folder's watch behind.
  const holdsWatched = nativeFolders(places).some(dir => dir === path || dir.startsWith(`${path}${sep}`));
  const self = name === basename(folder);
  const hint = classifyPath(places, path);
  return {
    ...(hint !== undefined && { hint }),
    recheck: holdsWatched || self,
    // A file named like its folder (tasks/tasks) is taken for the folder itself: one needless re-watch.
    ...(self && { invalidate: folder }),
  };
}
