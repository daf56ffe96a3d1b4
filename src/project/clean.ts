// `orch clean` and `orch --clean-state`. clean removes what only takes space: artifacts of old runs
// and the leftovers of refused hand edits and consumed decisions. clean-state removes everything
// the machine owns so every task starts over, holding the session while it does, so no orchestrator
// can start in the middle. Neither ever touches specs, the config or the run log. Plans are separate
// from the removal so the CLI can show what will go and ask first.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { openAttempt } from '../machine/record.js';
import { TASK_STATE_INFO } from '../machine/states.js';
import { stopProcessGroup, STOP_RESULT } from '../runner/kill-group.js';
import { DEFAULT_KILL_GRACE_MS } from '../runner/run-command.js';
import { loadAll } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { acquireSession, judgeHolder, readSession, HOLDER_STATES, type SessionOptions } from '../store/session.js';

/** Runs kept by `orch clean` unless `--keep N` says otherwise. */
export const DEFAULT_KEEP_RUNS = 5;
/** A run folder is named after its run id, which starts with its UTC start time: they sort by name. */
const RUN_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}/;
/**
 * Leftovers, by folder: a record refused as a hand edit is kept beside it as `<id>.rejected-<time>.json`
 * (PRODUCT.md §6); a decision file the orchestrator consumed or refused is renamed with the outcome.
 */
export const LEFTOVER_PATTERNS = {
  records: /^[^.].*\.rejected-[^/]*\.json$/,
  inbox: /^[^.].*\.(?:consumed|rejected|applied)(?:[-.][A-Za-z0-9._-]*)?\.json$/,
} as const;

export interface CleanItem {
  path: string;
  kind: 'run' | 'leftover';
  /** Why it goes, or why it stays. */
  reason: string;
  bytes: number;
}

export interface CleanPlan {
  remove: CleanItem[];
  keep: CleanItem[];
}

export interface CleanOptions {
  /** Default DEFAULT_KEEP_RUNS. */
  keep?: number;
}

/** What `orch clean` would remove; touches nothing. */
export async function planClean(paths: StatePaths, options: CleanOptions = {}): Promise<CleanPlan> {
  const keepCount = options.keep ?? DEFAULT_KEEP_RUNS;
  const plan: CleanPlan = { remove: [], keep: [] };
  const session = await readSession(paths).catch(() => undefined);
  const liveRun = session !== undefined && judgeHolder(session).state === HOLDER_STATES.held ? session.run_id : undefined;
  const needed = await runsStillNeeded(paths);

  const runs = (await dirEntries(paths.runs)).filter(e => e.isDirectory() && RUN_ID.test(e.name)).map(e => e.name).sort().reverse();
  for (const [i, run] of runs.entries()) {
    const path = join(paths.runs, run);
    const item = (reason: string): CleanItem => ({ path, kind: 'run', reason, bytes: 0 });
    if (run === liveRun) plan.keep.push(item('the running orchestrator writes it'));
    else if (i < keepCount) plan.keep.push(item(`one of the ${keepCount} newest runs`));
    else if (needed.has(run)) plan.keep.push(item(`holds the last attempt of unfinished task ${needed.get(run)}`));
    else plan.remove.push(item(`older than the ${keepCount} newest runs`));
  }
  for (const [dir, pattern] of [[paths.records, LEFTOVER_PATTERNS.records], [paths.inbox, LEFTOVER_PATTERNS.inbox]] as const) {
    for (const entry of await dirEntries(dir)) {
      if (entry.isFile() && pattern.test(entry.name)) plan.remove.push({ path: join(dir, entry.name), kind: 'leftover', reason: 'a refused edit or a consumed decision', bytes: 0 });
    }
  }
  // The archive's copy of a finished record (src/store/finished-archive.ts) whose record is gone.
  for (const entry of await dirEntries(paths.archive)) {
    if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
    const record = await fs.lstat(join(paths.records, entry.name)).catch(() => undefined);
    if (record === undefined) plan.remove.push({ path: join(paths.archive, entry.name), kind: 'leftover', reason: 'the archived copy of a record that is gone', bytes: 0 });
  }
  for (const item of plan.remove) item.bytes = await sizeOf(item.path);
  return plan;
}

/** Removes what `plan` lists; returns the paths removed. */
export async function applyClean(plan: CleanPlan): Promise<string[]> {
  const removed: string[] = [];
  for (const item of plan.remove) {
    await fs.rm(item.path, { recursive: true, force: true });
    removed.push(item.path);
  }
  return removed;
}

/** Run id → task, for runs holding the last attempt of a task that is not finished (it may need a person to read it). */
async function runsStillNeeded(paths: StatePaths): Promise<Map<string, string>> {
  const needed = new Map<string, string>();
  for (const { doc } of (await loadAll('record', paths.records)).items) {
    if (TASK_STATE_INFO[doc.state].terminal) continue;
    const run = doc.attempts.at(-1)?.run_id;
    if (run !== undefined) needed.set(run, doc.id);
  }
  return needed;
}

async function dirEntries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** Bytes under `path` (no symlink followed). */
export async function sizeOf(path: string): Promise<number> {
  const stat = await fs.lstat(path).catch(() => undefined);
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of await dirEntries(path)) total += await sizeOf(join(path, entry.name));
  return total;
}

/** The machine-owned state `--clean-state` removes: the contents of these folders, and these files. */
export function machineState(paths: StatePaths): { dirs: string[]; files: string[] } {
  return { dirs: [paths.records, paths.archive, paths.workers, paths.inbox, paths.runs], files: [paths.events, paths.recordIndex] };
}

/** What `--clean-state` would remove (top-level entries); touches nothing. */
export async function planCleanState(paths: StatePaths): Promise<CleanItem[]> {
  const { dirs, files } = machineState(paths);
  const items: CleanItem[] = [];
  for (const dir of dirs) {
    for (const entry of await dirEntries(dir)) {
      const path = join(dir, entry.name);
      items.push({ path, kind: 'leftover', reason: 'machine-owned state', bytes: await sizeOf(path) });
    }
  }
  for (const file of files) {
    const stat = await fs.lstat(file).catch(() => undefined);
    if (stat !== undefined) items.push({ path: file, kind: 'leftover', reason: 'machine-owned state', bytes: stat.size });
  }
  return items;
}

export interface CleanStateResult {
  removed: string[];
  /** Process groups of open attempts (left by a dead orchestrator) stopped before their records went. */
  stopped: { task: string; pgid: number }[];
}

/**
 * Removes the machine-owned state while holding the session (ORCH_SESSION_HELD, exit 3, if a live
 * orchestrator holds it). Process groups that a dead orchestrator left running are stopped first:
 * once their records are gone, nothing would know them. session.json stays (marked stopped), so the
 * epoch keeps rising and no late write of an old orchestrator can land.
 */
export async function cleanState(paths: StatePaths, options: SessionOptions & { killGraceMs?: number } = {}): Promise<CleanStateResult> {
  const session = await acquireSession(paths, { ...options, takeOverStale: true });
  try {
    const stopped: CleanStateResult['stopped'] = [];
    for (const { doc } of (await loadAll('record', paths.records)).items) {
      const attempt = openAttempt(doc);
      if (attempt?.process === undefined) continue;
      const result = await stopProcessGroup(attempt.process, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
      if (result === STOP_RESULT.stopped) stopped.push({ task: doc.id, pgid: attempt.process.pgid });
    }
    const removed: string[] = [];
    const { dirs, files } = machineState(paths);
    for (const dir of dirs) {
      for (const entry of await dirEntries(dir)) {
        const path = join(dir, entry.name);
        await fs.rm(path, { recursive: true, force: true });
        removed.push(path);
      }
    }
    for (const file of files) {
      if ((await fs.lstat(file).catch(() => undefined)) === undefined) continue;
      await fs.rm(file, { force: true });
      removed.push(file);
    }
    return { removed, stopped };
  } finally {
    await session.release();
  }
}
