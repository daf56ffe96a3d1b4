// Ownership instead of a lock per write (issue 16): a file that only the orchestrator holding the
// session writes (a worker slot's view) needs no lock directory around each write. Its writes are
// serialized by their one writer; another orchestrator is kept out by the session's fencing epoch,
// which updateLocked checks before every write (assertSessionEpoch); every write is still a whole
// file, by rename. Saves the lock's mkdir, stat and rmdir per write.
import type { HeldLock } from './lock.js';

const NEVER = new AbortController().signal;

/** A stand-in for a held lock on `path`, for a file the session owner alone writes. */
export function ownedByTheSession(path: string): HeldLock {
  return { path, lockPath: `${path}.lock`, compromised: false, signal: NEVER, assertHeld: () => undefined };
}
