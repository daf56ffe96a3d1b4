// Temp files of writers that died mid-write (kill -9, power loss) stay in `.orch-tmp/`. They are never
// read, but they take space: the sweeper removes each one whose writer is provably dead, or that is
// too old to belong to a write still in progress. A live writer's fresh temp file is never touched.
import { lstatSync, promises as fs, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { errnoCode } from '../errors.js';
import { TEMP_DIR_NAME, parseTempFileName } from './durable-write.js';
import type { StatePaths } from './paths.js';
import { LIVENESS, bootId, livenessOf, type ProcessIdentity } from './process-identity.js';

/** A temp file older than this is removed whoever wrote it: a durable write takes milliseconds. */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

export interface SweepTempOptions {
  clock?: Clock;
  /** Age (by mtime) past which a temp file is removed even if its writer may live. */
  maxAgeMs?: number;
}

export interface SweepTempResult {
  /** Full paths of the temp files removed. */
  removed: string[];
  /** Full paths of the entries left in place (live writer, or too fresh to judge). */
  kept: string[];
}

/**
 * Every dir orch writes files into with writeFileDurable or createFileExclusive: the state dirs, and
 * each run's folder under runs/ (its summary.json, written when the run ends). A symlink there is
 * not followed.
 */
export function tempFileDirs(paths: StatePaths): string[] {
  return [paths.stateDir, paths.tasks, paths.inbox, paths.machine, paths.records, paths.archive, paths.workers, ...runDirs(paths.runs)];
}

function runDirs(runs: string): string[] {
  try {
    return readdirSync(runs, { withFileTypes: true })
      .filter(entry => entry.isDirectory() && entry.name !== TEMP_DIR_NAME)
      .map(entry => join(runs, entry.name))
      .sort();
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/**
 * Removes stale temp files from `<dir>/.orch-tmp/` for each of `dirs`. Temp files are named after
 * their writer (pid and start time, read on this host and boot): one whose writer is dead goes at
 * once; any other goes when older than `maxAgeMs`. Anything but a regular file is left alone.
 */
export async function sweepTempFiles(dirs: readonly string[], options: SweepTempOptions = {}): Promise<SweepTempResult> {
  const clock = options.clock ?? systemClock;
  const maxAgeMs = options.maxAgeMs ?? TEMP_MAX_AGE_MS;
  const result: SweepTempResult = { removed: [], kept: [] };
  for (const dir of dirs) {
    const tempDir = join(dir, TEMP_DIR_NAME);
    let names: string[];
    try {
      names = await fs.readdir(tempDir);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') continue;
      throw error;
    }
    for (const name of names.sort()) {
      const path = join(tempDir, name);
      const stat = await fs.lstat(path).catch(() => undefined);
      if (stat === undefined) continue; // renamed into place (or removed) since the readdir
      if (!stat.isFile()) {
        result.kept.push(path);
        continue;
      }
      if (isStale(name, stat.mtimeMs, clock.now(), maxAgeMs)) {
        try {
          await fs.unlink(path);
          result.removed.push(path);
        } catch (error) {
          if (errnoCode(error) !== 'ENOENT') throw error;
        }
      } else {
        result.kept.push(path);
      }
    }
  }
  return result;
}

function isStale(name: string, mtimeMs: number, now: number, maxAgeMs: number): boolean {
  if (now - mtimeMs > maxAgeMs) return true;
  const writer = parseTempFileName(name);
  return writer !== undefined && livenessOf(writerIdentity(writer)) === LIVENESS.dead;
}

/**
 * The name holds no host or boot: judge it as a process of ours. A writer from before a reboot is
 * then a pid that is gone or has another start time (dead); if the wrong file goes, the worst is that
 * its writer's rename fails with ENOENT: a failed write, never a broken file.
 */
function writerIdentity(writer: { pid: number; start_time: number }): ProcessIdentity {
  return { ...writer, boot_id: bootId(), host: hostname() };
}

export interface TempLinks {
  /** Temp names of `target` whose writer was dead: removed. */
  removed: string[];
  /** Temp names of `target` whose writer may live (it drops them a moment after linking). */
  pending: string[];
}

/**
 * createFileExclusive links its fully written temp file to the target, then removes the temp name;
 * a writer killed in between (crash point create.after-link) leaves the target with two links, and
 * every reader refuses a shared hard link. This removes those second names: only a name in
 * `<dir>/.orch-tmp/` that is a temp name of `target` itself, the same inode as `target`, and whose
 * writer is provably dead. Any other extra link (a hard link made by someone else) is left alone, and
 * readers still refuse it.
 */
export async function dropDeadTempLinks(target: string): Promise<TempLinks> {
  const result: TempLinks = { removed: [], pending: [] };
  // Synchronous: this runs before every read of session.json, and is one lstat when all is well.
  let stat;
  try {
    stat = lstatSync(target);
  } catch {
    return result; // missing or unreadable: the read that follows says why
  }
  if (!stat.isFile() || stat.nlink < 2) return result;
  const tempDir = join(dirname(target), TEMP_DIR_NAME);
  const prefix = `${basename(target)}.`;
  const names = await fs.readdir(tempDir).catch(() => [] as string[]);
  for (const name of names) {
    const writer = name.startsWith(prefix) ? parseTempFileName(name) : undefined;
    // The temp name of this very target: `<target>.<pid>-<start>.<n>.tmp`, nothing else before it.
    if (writer === undefined || !/^\d+-\d+\.\d+\.tmp$/.test(name.slice(prefix.length))) continue;
    const path = join(tempDir, name);
    const link = await fs.lstat(path).catch(() => undefined);
    if (link === undefined || link.ino !== stat.ino || link.dev !== stat.dev) continue;
    if (livenessOf(writerIdentity(writer)) !== LIVENESS.dead) {
      result.pending.push(path);
      continue;
    }
    try {
      await fs.unlink(path);
      result.removed.push(path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }
  return result;
}
