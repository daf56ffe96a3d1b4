// Ownership instead of a lock per write (issue 16, specs/files.md): the files the orchestrator holding
// the session writes (task records, worker slots) need no lock directory around each write.
//
// - Another orchestrator is kept out by the session's fencing epoch: checked before the mutation
//   (assertSessionEpoch) and again right before the write (this lock's assertHeld), where a lock dir
//   would check its lease.
// - Writes of one file by this process are put in order by the caller (the engine's per-record chain,
//   a worker slot's chain of writes).
// - Every other writer takes the file's lock and checks the session under it (a CLI decision applied
//   while no orchestrator runs): a new session waits for such locks to go before it reads the records
//   (waitForWriters), so a write that passed its check lands before the new owner reads.
// Every write is still a whole file, by rename. Saves a lock's mkdir, stat and rmdir per write.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSessionEpochSync, type Fence } from './fenced-update.js';
import { withLock, type HeldLock } from './lock.js';

const NEVER = new AbortController().signal;
const LOCK_SUFFIX = '.lock';

/** A stand-in for a held lock on `path`, for a file the session owner alone writes. */
export function ownedByTheSession(path: string, fence: Fence): HeldLock {
  return { path, lockPath: `${path}${LOCK_SUFFIX}`, compromised: false, signal: NEVER, assertHeld: () => assertSessionEpochSync(fence, path) };
}

/**
 * Waits until every lock held on a file of `dir` when this is called is released (or found stale, by
 * proof that its holder is dead, as withLock judges it): the writers that checked the session before
 * this one took it have landed. Called by a new session before it reads the files it will own.
 * Returns the locks it could not take, with why.
 */
export async function waitForWriters(dir: string): Promise<{ file: string; error: string }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const unsettled: { file: string; error: string }[] = [];
  for (const name of names) {
    if (!name.endsWith(LOCK_SUFFIX)) continue;
    const file = join(dir, name.slice(0, -LOCK_SUFFIX.length));
    // A lock that cannot be had (held too long, its holder unknown) is said, not waited on for ever.
    await withLock(file, async () => undefined).catch((error: unknown) => unsettled.push({ file, error: error instanceof Error ? error.message : String(error) }));
  }
  return unsettled;
}
