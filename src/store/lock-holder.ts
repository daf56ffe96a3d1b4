// Who holds a lock (PRODUCT.md §12: crash detection by process identity, not by time). The holder of
// a `<file>.lock` dir writes its identity into it as `holder.<pid>-<start>.<n>` the moment the dir is
// made; a contender that finds the lock held reads it, and takes the lock of a provably dead holder at
// once instead of waiting out the stale time (src/store/lock.ts).
//
// A lock is abandoned only on proof, as a session is: a holder on this host that is alive keeps its
// lock however old its mtime looks (a clock set forward, or a doctor run under a skewed clock, would
// otherwise take a live orchestrator's locks). The mtime decides only what identity cannot: a lock
// dir without a readable holder file, or one held from another host.
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
const OWN_HOLDERS = Symbol.for('orch.lock.own-holders');
/**
 * The names of the holder files this process has written and not removed: the locks it holds. A
 * holder file that names this process but is not among them is one it left behind (a release that
 * failed), so this process being alive proves nothing about it. Kept on globalThis, with the counter
 * that makes the names unique: two copies of this module in one process (the bundle and the modules
 * tsc emits) must neither reuse a name nor take each other's locks for left behind. (A worker thread
 * has its own globalThis: orch takes locks on its main thread only.)
 */
const own: { count: number; names: Set<string> } = ((globalThis as { [OWN_HOLDERS]?: { count: number; names: Set<string> } })[OWN_HOLDERS] ??= { count: 0, names: new Set() });

/** Writes our identity into the lock dir we just made; undefined if that failed (then only the stale time frees it). */
export function writeHolder(lockPath: string): string | undefined {
  const me = selfIdentity();
  const name = `holder.${me.pid}-${me.start_time}.${++own.count}`;
  const identity: ProcessIdentity = { pid: me.pid, start_time: me.start_time, boot_id: me.boot_id, host: me.host };
  const path = join(lockPath, name);
  try {
    fs.writeFileSync(path, JSON.stringify(identity), { flag: 'wx' });
    own.names.add(name);
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
  own.names.delete(name);
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

/** What a lock dir is, to someone who wants it gone: see judgeLock. */
export const LOCK_STATES = {
  /** Nothing there. */
  free: 'free',
  /** Its holder is alive, or cannot be judged and refreshed it within the stale time. */
  held: 'held',
  /** Its holder is provably dead, or cannot be judged and stopped refreshing it. */
  abandoned: 'abandoned',
  /** Not a lock dir of ours (a file, or a dir with other things in it): never removed. */
  foreign: 'foreign',
} as const;
export type LockState = (typeof LOCK_STATES)[keyof typeof LOCK_STATES];

export interface LockVerdict {
  state: LockState;
  /** Why, in a few words, for messages. */
  reason: string;
  /** The holder named in the lock dir, when one could be read. */
  holder?: ProcessIdentity;
}

/**
 * Whether the lock dir `lockPath` (with its entries `names`, and mtime `mtimeMs`) is still held. A
 * holder file on this host decides alone: alive, held; dead, abandoned. Without one that can be
 * judged (none written, half-written, another host's process) the lock is abandoned once it has not
 * been refreshed for `staleMs` by `now` (a live holder refreshes it every few seconds).
 */
function judgeEntries(lockPath: string, names: readonly string[], mtimeMs: number, staleMs: number, now: number): LockVerdict {
  if (!names.every(name => HOLDER_NAME.test(name))) return { state: LOCK_STATES.foreign, reason: 'it holds files that are not holder files' };
  let holder: ProcessIdentity | undefined;
  let undecided = names.length === 0;
  for (const name of names) {
    const identity = readHolder(lockPath, name);
    holder ??= identity;
    const liveness = identity === undefined ? LIVENESS.unknown : holderLiveness(name, identity);
    if (liveness === LIVENESS.alive) return { state: LOCK_STATES.held, reason: `its holder (pid ${identity?.pid}) is alive`, ...(identity !== undefined && { holder: identity }) };
    if (liveness === LIVENESS.unknown) undecided = true;
  }
  const withHolder = holder === undefined ? {} : { holder };
  if (!undecided) return { state: LOCK_STATES.abandoned, reason: `its holder (pid ${holder?.pid}) is dead`, ...withHolder };
  const age = now - mtimeMs;
  const who = names.length === 0 ? 'no holder named' : holder === undefined ? 'its holder file unreadable' : `its holder (pid ${holder.pid} on ${holder.host}) out of sight`;
  return age > staleMs
    ? { state: LOCK_STATES.abandoned, reason: `not refreshed for ${Math.round(age / 1000)} s, ${who}`, ...withHolder }
    : { state: LOCK_STATES.held, reason: `refreshed ${Math.round(Math.max(0, age) / 1000)} s ago, ${who}`, ...withHolder };
}

/** Whether the lock dir `lockPath` is held, abandoned, free or not ours (see judgeEntries). */
export function judgeLock(lockPath: string, staleMs: number, now: number = Date.now()): LockVerdict {
  const stat = statIfExists(lockPath);
  if (stat === undefined) return { state: LOCK_STATES.free, reason: 'it is not there' };
  if (!stat.isDirectory()) return { state: LOCK_STATES.foreign, reason: 'it is not a directory' };
  const names = readdirOrUndefined(lockPath);
  if (names === undefined) return { state: LOCK_STATES.free, reason: 'it is not there' };
  return judgeEntries(lockPath, names, stat.mtimeMs, staleMs, now);
}

/**
 * Removes the lock dir `lockPath` when it is abandoned (judgeEntries: its holder provably dead, or,
 * when the holder cannot be judged, not refreshed for `staleMs`). True when the lock is gone
 * (removed here, or not there), false when it is held or changed while we looked (look again later).
 *
 * Race-safe for a dead holder: its holder file's name is unique to that one lock dir, and only one
 * contender's unlink of it succeeds; that unlink leaves the dir empty with a fresh mtime, so nobody
 * else removes it before our rmdir, and a newer lock dir (which holds its own holder file) cannot be
 * removed by rmdir. A lock dir with no holder file (its holder died between mkdir and the write)
 * is removed on its mtime, as proper-lockfile does.
 */
/** Removes an abandoned lock: true when it is gone, false when it is held; throws when the disk refuses the removal (read-only, no permission). */
export function reapLock(lockPath: string, staleMs: number, now: number = Date.now()): boolean {
  const before = statIfExists(lockPath);
  if (before === undefined) return true;
  if (!before.isDirectory()) return false;
  const names = readdirOrUndefined(lockPath);
  const after = statIfExists(lockPath);
  if (after === undefined) return true;
  // The names are those of this very dir only if it was the same dir before and after the readdir.
  if (names === undefined || !sameDir(after, dirIdentity(before))) return false;
  if (judgeEntries(lockPath, names, after.mtimeMs, staleMs, now).state !== LOCK_STATES.abandoned) return false;
  for (const name of names) {
    try {
      fs.unlinkSync(join(lockPath, name));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false; // another contender is removing it: it takes the lock, we wait
      throw error; // EROFS, EACCES…: this lock can never be taken; waiting for it would only hide why
    }
  }
  try {
    fs.rmdirSync(lockPath);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return true;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false; // a contender made it again meanwhile
    throw error;
  }
}

/** livenessOf the holder, except that a holder file of this process is alive only while it holds the lock. */
function holderLiveness(name: string, identity: ProcessIdentity): Liveness {
  const me = selfIdentity();
  const mine = identity.pid === me.pid && identity.start_time === me.start_time && identity.boot_id === me.boot_id && identity.host === me.host;
  if (mine) return own.names.has(name) ? LIVENESS.alive : LIVENESS.dead;
  return livenessOf(identity);
}
