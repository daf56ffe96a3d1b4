// The lock around every read-modify-write (PRODUCT.md §2, §7): proper-lockfile's `<file>.lock`
// directory, made safe to use in a long-running process.
//
// What proper-lockfile leaves to us, and how it is covered here:
// - Its default `onCompromised` throws inside a timer, which kills the process: ours only marks the
//   HeldLock compromised (and aborts its signal). Writers call `assertHeld()` right before writing.
// - It judges staleness by wall-clock mtime. A forward clock jump (or a holder stalled past the stale
//   time: a paused VM, a blocked event loop) would let a contender take a live lock; we judge by the
//   holder's identity where we can (below). For a holder out of sight (another host), `assertHeld()`
//   checks actively (lock dir still there, same directory by inode and birth time, mtime fresh)
//   instead of waiting for the next refresh timer, and the epoch/rev fencing makes any late write fail.
// - A backward jump leaves a dead holder's lock with an mtime in the future, which it never judges
//   stale (moxystudio/node-proper-lockfile#109): a future mtime that stays unchanged for the stale
//   time (measured on the monotonic clock) is backdated, so the next attempt removes it.
// - Its release removes whatever `<file>.lock` is there, even one a contender created after judging
//   ours stale: our lock's `fs` refuses to remove a lock dir that is no longer ours.
// - A dead holder's lock would be taken only once its mtime is stale (10 s: every `orch --resume`
//   after a kill -9 waited that long). The holder writes its identity (pid, start time, boot id, host)
//   into the lock dir, as `holder.<pid>-<start>.<n>`, the moment the dir is made; a contender that
//   finds the lock held reads it and, when livenessOf says the holder is dead, removes the lock at once
//   (reapLock). A lock is taken only on such proof, as a session is: a live holder on this host keeps
//   it however old its mtime (a clock set forward, a holder stalled: its own assertHeld still stops
//   its writes). Without a readable holder (a crash between mkdir and that write, another host's
//   process), the stale time still decides. Since the dir is no longer empty, every removal empties it
//   first: our `fs` does so for our own dir, and proper-lockfile's own stale removal is left to reapLock.
import fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import lockfile from 'proper-lockfile';
import { OrchError, errnoCode } from '../errors.js';
import { dirIdentity, lockHolder, reapLock, removeHolder, sameDir, statIfExists, writeHolder, type DirIdentity } from './lock-holder.js';

export { judgeLock, lockHolder, LOCK_STATES, reapLock, type LockState, type LockVerdict } from './lock-holder.js';

/** A lock whose holder cannot be judged (none named, another host) and whose mtime is older than this is taken over by the next contender (one whose holder is provably dead, at once; a live one on this host, never). Same for every process. */
export const LOCK_STALE_MS = 10_000;
/** How often the holder refreshes the lock's mtime. */
export const LOCK_UPDATE_MS = 2_000;
/** How long withLock waits for a held lock before ORCH_LOCK_TIMEOUT (longer than LOCK_STALE_MS, so a dead holder's lock is always outlived). */
export const LOCK_TIMEOUT_MS = 30_000;
/** Backoff between attempts: doubling from the first, capped, with full jitter. */
export const LOCK_RETRY_FIRST_MS = 2;
export const LOCK_RETRY_MAX_MS = 50;

export interface LockOptions {
  /** Default LOCK_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default LOCK_STALE_MS. Tests only: every process locking a file must use the same value. */
  staleMs?: number;
  /** Default LOCK_UPDATE_MS (proper-lockfile makes it 1000 at least, and at most staleMs / 2). */
  updateMs?: number;
  /** Stops waiting for the lock (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface HeldLock {
  /** The file the lock protects. */
  readonly path: string;
  /** The lock directory, `<path>.lock`. */
  readonly lockPath: string;
  readonly compromised: boolean;
  /** Aborted when the lock is found compromised. */
  readonly signal: AbortSignal;
  /** Throws ORCH_LOCK_COMPROMISED unless the lock is still ours and fresh. Call right before a write. */
  assertHeld(): void;
}

/** Runs `fn` holding the lock on `path` (the file need not exist), and releases it however fn ends. */
export async function withLock<T>(path: string, fn: (lock: HeldLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquire(resolve(path), options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

class Held implements HeldLock {
  readonly path: string;
  readonly lockPath: string;
  readonly staleMs: number;
  readonly updateMs: number;
  identity: DirIdentity | undefined;
  /** True once this acquisition made the lock dir (before `identity` is known). */
  created = false;
  /** The name of our holder file in the lock dir, if it could be written. */
  holderName: string | undefined;
  release: () => Promise<void> = async () => undefined;
  #controller = new AbortController();
  #reason: string | undefined;
  #released = false;

  constructor(path: string, staleMs: number, updateMs: number) {
    this.path = path;
    this.lockPath = `${path}.lock`;
    this.staleMs = staleMs;
    this.updateMs = updateMs;
  }

  get compromised(): boolean {
    return this.#reason !== undefined;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  markCompromised(reason: string): void {
    if (this.#reason !== undefined || this.#released) return;
    this.#reason = reason;
    this.#controller.abort(this.#error());
  }

  markReleased(): void {
    this.#released = true;
  }

  /** True while the lock dir is the one we created (a guard for proper-lockfile's removal). */
  isOurs(): boolean {
    const stat = statIfExists(this.lockPath);
    return stat !== undefined && this.identity !== undefined && sameDir(stat, this.identity);
  }

  assertHeld(): void {
    if (this.#released) this.markCompromised('it was already released');
    if (this.#reason === undefined) {
      const stat = statIfExists(this.lockPath);
      if (stat === undefined) this.markCompromised('its lock directory was removed');
      else if (this.identity === undefined || !sameDir(stat, this.identity)) this.markCompromised('another process took it over');
      // Past this age a contender may judge it stale: a write started now could land after a takeover.
      else if (Date.now() - stat.mtimeMs > this.staleMs - this.updateMs) this.markCompromised(`it was not refreshed for ${Math.round(Date.now() - stat.mtimeMs)} ms`);
    }
    if (this.#reason !== undefined) throw this.#error();
  }

  #error(): OrchError {
    return new OrchError('ORCH_LOCK_COMPROMISED', `lost the lock on ${this.path}: ${this.#reason ?? 'unknown reason'}; nothing was written`, {
      details: { file: this.path, lock: this.lockPath, reason: this.#reason },
      hint: 'another process may have written the file since; read it again and retry',
    });
  }
}

/**
 * proper-lockfile's fs, except that: mkdir writes our holder file into the new lock dir before
 * proper-lockfile sees it (so the mtime it records, and then refreshes, is taken after that write);
 * rmdir removes the holder file first, and never removes a lock dir that is not (or no longer) ours.
 */
function guardedFs(held: Held): typeof fs {
  // Object.create, not a spread: copying every property of the fs module cost 0.3 ms per lock.
  // Once we hold it, this fs only ever removes our own lock dir (release, or signal-exit's cleanup).
  const mayRemove = (): boolean => (held.identity === undefined ? held.created : held.isOurs());
  const guarded = Object.create(fs, {
    mkdir: {
      // Synchronous, so that the holder file follows the mkdir within microseconds.
      value: ((path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null) => void) => {
        try {
          fs.mkdirSync(path);
        } catch (error) {
          process.nextTick(callback, error as NodeJS.ErrnoException);
          return;
        }
        held.created = true;
        held.holderName = writeHolder(String(path));
        process.nextTick(callback, null);
      }) as unknown as typeof fs.mkdir,
    },
    rmdir: {
      value: ((path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null) => void) => {
        // Not ours and not held: proper-lockfile found it stale and would rmdir it blindly. reapLock
        // decides instead (it knows holder files, and removes them race-safely).
        if (held.identity === undefined && !held.created) return callback(lockedError(String(path)));
        if (!mayRemove()) return callback(null);
        dropHolder(held);
        syncCall(() => fs.rmdirSync(path), callback);
      }) as typeof fs.rmdir,
    },
    // stat and utimes (proper-lockfile's mtime probe and refresh) synchronous too: a few microseconds,
    // where the async calls would wait in libuv's thread pool behind the fsyncs of other writes.
    stat: {
      value: ((path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null, stat?: fs.Stats) => void) =>
        syncCall(() => fs.statSync(path), callback)) as unknown as typeof fs.stat,
    },
    utimes: {
      value: ((path: fs.PathLike, atime: Date, mtime: Date, callback: (error: NodeJS.ErrnoException | null) => void) =>
        syncCall(() => fs.utimesSync(path, atime, mtime), callback)) as unknown as typeof fs.utimes,
    },
    rmdirSync: {
      value: ((path: fs.PathLike) => {
        if (!mayRemove()) return;
        dropHolder(held);
        fs.rmdirSync(path);
      }) as typeof fs.rmdirSync,
    },
  }) as typeof fs;
  // proper-lockfile caches the mtime precision it probed (a utimes and a stat) as a symbol property of
  // the fs it is given; this fs is new per lock, so the cache is carried over from the last one.
  if (lastGuarded !== undefined) {
    for (const key of Object.getOwnPropertySymbols(lastGuarded)) {
      Object.defineProperty(guarded, key, { value: (lastGuarded as unknown as Record<symbol, unknown>)[key] });
    }
  }
  lastGuarded = guarded;
  return guarded;
}

/** The fs given to the last lock: it holds proper-lockfile's cached mtime precision (see guardedFs). */
let lastGuarded: typeof fs | undefined;

/** Runs a synchronous fs call and reports it to a Node-style callback on the next tick. */
function syncCall<T>(call: () => T, callback: (error: NodeJS.ErrnoException | null, value?: T) => void): void {
  let value: T;
  try {
    value = call();
  } catch (error) {
    process.nextTick(callback, error as NodeJS.ErrnoException);
    return;
  }
  process.nextTick(callback, null, value);
}

/** Removes our lock dir (holder file first); a failure leaves it to reapLock, which sees it left behind. */
function removeOwnLock(held: Held): void {
  dropHolder(held);
  try {
    fs.rmdirSync(held.lockPath);
  } catch {
    // Gone already, or not empty (something else inside): not ours to force.
  }
}

function dropHolder(held: Held): void {
  if (held.holderName === undefined) return;
  removeHolder(held.lockPath, held.holderName);
  held.holderName = undefined;
}

function lockedError(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path} is held`), { code: 'ELOCKED' });
}


let acquisitions = 0;

/**
 * An abandoned lock removed (true), or held (false). A lock the disk will not let us remove (a
 * read-only remount left one behind) fails the write now with the disk's errno (EROFS), so the caller
 * reports the fault at once instead of waiting out the lock timeout.
 */
function reapOrFail(held: Held, path: string): boolean {
  try {
    return reapLock(held.lockPath, held.staleMs);
  } catch (error) {
    throw new OrchError('ORCH_WRITE_FAILED', `could not lock ${path}: its abandoned lock cannot be removed (${errnoCode(error) ?? (error as Error).message})`, {
      cause: error,
      details: { file: path, lock: held.lockPath, errno: errnoCode(error) },
    });
  }
}

async function acquire(path: string, options: LockOptions): Promise<Held> {
  // The values proper-lockfile will really use: stale 2 s at least, update within [1 s, stale / 2].
  const staleMs = Math.max(options.staleMs ?? LOCK_STALE_MS, 2_000);
  const updateMs = Math.max(Math.min(options.updateMs ?? LOCK_UPDATE_MS, staleMs / 2), 1_000);
  const timeoutMs = options.timeoutMs ?? LOCK_TIMEOUT_MS;
  const held = new Held(path, staleMs, updateMs);
  const started = performance.now();
  const future = new FutureMtimeWatch(held.lockPath, staleMs);
  try {
    fs.mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new OrchError('ORCH_WRITE_FAILED', `could not lock ${path}: ${(error as Error).message}`, {
      cause: error,
      details: { file: path, lock: held.lockPath, errno: errnoCode(error) },
    });
  }
  let reaped = false;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      // proper-lockfile keeps its bookkeeping per path; a key of our own per acquisition keeps two
      // acquisitions of one file in this process (one of which took the other over) from sharing it.
      const release = await lockfile.lock(`${path}#${process.pid}-${++acquisitions}`, {
        lockfilePath: held.lockPath,
        realpath: false,
        stale: staleMs,
        update: updateMs,
        retries: 0,
        fs: guardedFs(held),
        onCompromised: error => held.markCompromised(error.message),
      });
      const stat = statIfExists(held.lockPath);
      if (stat === undefined) {
        held.identity = { ino: -1, dev: -1, birthtimeMs: -1 }; // matches no dir: release removes nothing
        await release().catch(() => undefined);
        held.identity = undefined;
        continue; // removed the moment we made it: try again
      }
      held.identity = dirIdentity(stat);
      held.release = async () => {
        held.markReleased();
        // Rejects (ERELEASED, ENOTACQUIRED) when proper-lockfile already gave the lock up as
        // compromised, and then leaves the dir. Still ours (its refreshes were late, nobody took it):
        // remove it here, or it would stay held by a live process until that process ends.
        await release().catch(() => undefined);
        if (held.isOurs()) removeOwnLock(held);
      };
      return held;
    } catch (error) {
      if (errnoCode(error) !== 'ELOCKED') {
        throw new OrchError('ORCH_WRITE_FAILED', `could not lock ${path}: ${(error as Error).message}`, {
          cause: error,
          details: { file: path, lock: held.lockPath, errno: errnoCode(error) },
        });
      }
    }
    // Held: taken at once if its holder is dead (or it is stale). Once in a row, so a lock that keeps
    // coming back is waited for with the backoff below.
    if (!reaped && reapOrFail(held, path)) {
      reaped = true;
      continue;
    }
    reaped = false;
    const waited = performance.now() - started;
    if (waited >= timeoutMs) {
      throw new OrchError('ORCH_LOCK_TIMEOUT', `timed out after ${Math.round(waited)} ms waiting for the lock on ${path}`, {
        details: { file: path, lock: held.lockPath, waitedMs: Math.round(waited) },
        hint: `another process holds ${held.lockPath}${describeHolder(held.lockPath)}; a dead holder's lock is taken at once when its holder is known, else ${staleMs / 1000} s after its last refresh`,
      });
    }
    future.check();
    const cap = Math.min(LOCK_RETRY_MAX_MS, LOCK_RETRY_FIRST_MS * 2 ** Math.min(attempt, 16));
    await sleep(Math.min(Math.random() * cap + 1, timeoutMs - waited), options.signal);
  }
}

/**
 * A lock dir whose mtime is in the future (the clock was set back after its holder died) is never
 * stale to proper-lockfile. A live holder refreshes its mtime every few seconds, so one that stays
 * the same for the stale time, measured on the monotonic clock, is dead: backdate it.
 */
class FutureMtimeWatch {
  readonly lockPath: string;
  readonly staleMs: number;
  #seen: { ino: number; birthtimeMs: number; mtimeMs: number; at: number } | undefined;

  constructor(lockPath: string, staleMs: number) {
    this.lockPath = lockPath;
    this.staleMs = staleMs;
  }

  check(): void {
    const stat = statIfExists(this.lockPath);
    if (stat === undefined || stat.mtimeMs <= Date.now() + this.staleMs) {
      this.#seen = undefined;
      return;
    }
    const seen = this.#seen;
    if (seen === undefined || seen.ino !== stat.ino || seen.birthtimeMs !== stat.birthtimeMs || seen.mtimeMs !== stat.mtimeMs) {
      this.#seen = { ino: stat.ino, birthtimeMs: stat.birthtimeMs, mtimeMs: stat.mtimeMs, at: performance.now() };
      return;
    }
    if (performance.now() - seen.at < this.staleMs) return;
    const past = new Date(Date.now() - 2 * this.staleMs);
    try {
      fs.utimesSync(this.lockPath, past, past);
    } catch {
      // Gone meanwhile: the next attempt takes it.
    }
    this.#seen = undefined;
  }
}

/** ` (pid N on HOST)` for a lock's named holder, else nothing. */
function describeHolder(lockPath: string): string {
  const holder = lockHolder(lockPath);
  return holder === undefined ? '' : ` (pid ${holder.pid} on ${holder.host})`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done, fail) => {
    const timer = setTimeout(finish, Math.max(0, ms));
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      if (signal?.aborted === true) fail(signal.reason);
      else done();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}
