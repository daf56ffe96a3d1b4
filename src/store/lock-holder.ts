// Who holds a lock (PRODUCT.md §12: crash detection by process identity, not by time). The holder of
// a `<file>.lock` dir writes its identity into it as `holder.<pid>-<start>.<n>` the moment the dir is
// made; a contender that finds the lock held reads it, and takes the lock of a provably dead holder at
// once instead of waiting out the stale time (src/store/lock.ts).
import fs, { type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { LIVENESS, livenessOf, selfIdentity, type Liveness, type ProcessIdentity } from './process-identity.js';

/** A directory as it was when looked at: a lock dir removed and made again is another one. */
export interface DirIdentity {
  ino: number;
  dev: number;
  birthtimeMs: number;
}

export function dirIdentity(stat: Stats): DirIdentity {
  return { ino: stat.ino, dev: stat.dev, birthtimeMs: stat.birthtimeMs };
}

export function sameDir(stat: Stats, id: DirIdentity): boolean {
  return stat.ino === id.ino && stat.dev === id.dev && stat.birthtimeMs === id.birthtimeMs;
}

/** lstat, or undefined when there is nothing at `path`. */
export function statIfExists(path: string): Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** `holder.<pid>-<start time>.<n>`: unique to one acquisition, so removing it names one lock dir. */
const HOLDER_NAME = /^holder\.(\d+)-(\d+)\.\d+$/;
let holders = 0;

/** Writes our identity into the lock dir we just made; undefined if that failed (then only the stale time frees it). */
export function writeHolder(lockPath: string): string | undefined {
  const me = selfIdentity();
  const name = `holder.${me.pid}-${me.start_time}.${++holders}`;
  const identity: ProcessIdentity = { pid: me.pid, start_time: me.start_time, boot_id: me.boot_id, host: me.host };
  const path = join(lockPath, name);
  try {
    fs.writeFileSync(path, JSON.stringify(identity), { flag: 'wx' });
    return name;
  } catch {
    // On a full disk the file is created and its write fails: an empty holder file left behind
    // would keep the lock dir from ever being removed on release (rmdir: ENOTEMPTY).
    try {
      fs.unlinkSync(path);
    } catch {
      // never created
    }
    return undefined;
  }
}

/** Removes our holder file `name` from `lockPath` (before the dir itself can go). */
export function removeHolder(lockPath: string, name: string): void {
  try {
    fs.unlinkSync(join(lockPath, name));
  } catch {
    // Gone already: rmdir says whether the dir can go.
  }
}

/** The identity in a holder file, or undefined when it cannot be read or does not match its name. */
function readHolder(lockPath: string, name: string): ProcessIdentity | undefined {
  const match = HOLDER_NAME.exec(name);
  if (match === null) return undefined;
  try {
    const value = JSON.parse(fs.readFileSync(join(lockPath, name), 'utf8')) as Partial<ProcessIdentity>;
    const { pid, start_time: startTime, boot_id: bootId, host } = value;
    if (pid !== Number(match[1]) || startTime !== Number(match[2]) || typeof bootId !== 'string' || typeof host !== 'string') return undefined;
    return { pid, start_time: startTime, boot_id: bootId, host };
  } catch {
    return undefined; // gone, or half-written by a holder that crashed: no proof either way
  }
}

/** Who holds the lock dir `lockPath` (as its holder file says), or undefined when that is unknown. */
export function lockHolder(lockPath: string): ProcessIdentity | undefined {
  const names = readdirOrUndefined(lockPath);
  const name = names?.find(n => HOLDER_NAME.test(n));
  return name === undefined ? undefined : readHolder(lockPath, name);
}

function readdirOrUndefined(path: string): string[] | undefined {
  try {
    return fs.readdirSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Removes the lock dir `lockPath` when it is abandoned: its holder file names a process that is
 * provably dead (livenessOf), or it was not refreshed for `staleMs`. True when the lock is gone
 * (removed here, or not there), false when it is held or changed while we looked (look again later).
 *
 * Race-safe for a dead holder: its holder file's name is unique to that one lock dir, and only one
 * contender's unlink of it succeeds; that unlink leaves the dir empty with a fresh mtime, so nobody
 * else removes it before our rmdir, and a newer lock dir (which holds its own holder file) cannot be
 * removed by rmdir. A lock dir with no holder file (its holder died between mkdir and the write)
 * is removed on its mtime, as proper-lockfile does.
 */
export function reapLock(lockPath: string, staleMs: number): boolean {
  const before = statIfExists(lockPath);
  if (before === undefined) return true;
  if (!before.isDirectory()) return false;
  const names = readdirOrUndefined(lockPath);
  const after = statIfExists(lockPath);
  if (after === undefined) return true;
  // The names are those of this very dir only if it was the same dir before and after the readdir.
  if (names === undefined || !sameDir(after, dirIdentity(before))) return false;
  if (!names.every(name => HOLDER_NAME.test(name))) return false; // something else inside: not a lock of ours
  const stale = Date.now() - after.mtimeMs > staleMs;
  if (!stale && (names.length === 0 || !names.every(name => holderLiveness(lockPath, name) === LIVENESS.dead))) return false;
  for (const name of names) {
    try {
      fs.unlinkSync(join(lockPath, name));
    } catch {
      return false; // another contender is removing it (ENOENT): it takes the lock, we wait
    }
  }
  try {
    fs.rmdirSync(lockPath);
    return true;
  } catch (error) {
    return errnoCode(error) === 'ENOENT';
  }
}

function holderLiveness(lockPath: string, name: string): Liveness {
  const identity = readHolder(lockPath, name);
  return identity === undefined ? LIVENESS.unknown : livenessOf(identity);
}
