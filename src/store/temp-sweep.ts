// Temp files of writers that died mid-write (kill -9, power loss) stay in `.orch-tmp/`. They are never
// read, but they take space: the sweeper removes each one whose writer is provably dead, or that is
// too old to belong to a write still in progress. A live writer's fresh temp file is never touched.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { errnoCode } from '../errors.js';
import { TEMP_DIR_NAME, parseTempFileName } from './durable-write.js';
import type { StatePaths } from './paths.js';
import { LIVENESS, bootId, livenessOf } from './process-identity.js';

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

/** Every dir orch writes files into with writeFileDurable or createFileExclusive. */
export function tempFileDirs(paths: StatePaths): string[] {
  return [paths.stateDir, paths.tasks, paths.inbox, paths.machine, paths.records, paths.workers];
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
  if (writer === undefined) return false;
  // The name holds no host or boot: judge it as a process of ours. A writer from before a reboot is
  // then a pid that is gone or has another start time (dead); if the wrong file goes, the worst is
  // that its writer's rename fails with ENOENT: a failed write, never a broken file.
  return livenessOf({ ...writer, boot_id: bootId(), host: hostname() }) === LIVENESS.dead;
}
