// `orch status`: the session, one row per task (running first, then waiting, then finished), counts
// per state, and every file that failed to load. Library code: it collects, the CLI prints.
import { relative } from 'node:path';
import { isOrchError } from '../errors.js';
import type { Activity, TaskState } from '../generated/types.js';
import { loadIfExists, toOrchError } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { invalidFile, type InvalidFile } from './read-state.js';
import { StatusCacheFile } from './status-cache.js';
import { checkFile, checkFolder, readRecordEntries, readRow, readSpecEntries, type RecordEntry } from './status-files.js';
import { activityAt, compareByActivity, type BusyTask, type TaskRow } from './status-row.js';
import { emptyCounts } from './summary.js';

export const SESSION_STATES = ['running', 'stale', 'stopped', 'none', 'unreadable'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export interface SessionView {
  state: SessionState;
  /** The status the file holds (starting, running, stopping, stopped). */
  status: string | null;
  pid: number | null;
  host: string | null;
  since: string | null;
  run_id: string | null;
  heartbeat_at: string | null;
  /** Why this state, in words. */
  reason: string;
}

export interface StatusReport {
  root: string;
  state_dir: string;
  session: SessionView;
  counts: Record<TaskState, number>;
  /** The rows of the window asked for (StatusOptions), in the listing's order. */
  tasks: TaskRow[];
  /** How many tasks there are in all. */
  tasks_total: number;
  invalid: InvalidFile[];
  rejected_edits: string[];
}

/** The session file, judged: is an orchestrator running on this state dir now? */
export async function describeSession(paths: StatePaths): Promise<{ session: SessionView; invalid?: InvalidFile }> {
  const none: SessionView = { state: 'none', status: null, pid: null, host: null, since: null, run_id: null, heartbeat_at: null, reason: 'no orchestrator has run here yet' };
  let record;
  try {
    record = (await loadIfExists('session', paths.session))?.doc;
  } catch (error) {
    const failure = { path: paths.session, error: isOrchError(error) ? error : toOrchError(paths.session, error) };
    const invalid = invalidFile(paths.root, 'session', failure);
    return { session: { ...none, state: 'unreadable', reason: `${invalid.path}: ${invalid.reason}` }, invalid };
  }
  if (record === undefined) return { session: none };
  // The session module brings the lock library with it: loaded only when there is a holder to judge.
  const verdict = record.status === 'stopped' ? { state: 'free', reason: 'it was stopped' } : (await import('../store/session.js')).judgeHolder(record);
  const state: SessionState = verdict.state === 'held' ? 'running' : verdict.state === 'stale' ? 'stale' : 'stopped';
  return {
    session: {
      state,
      status: record.status,
      pid: record.owner.pid,
      host: record.owner.host,
      since: record.started_at,
      run_id: record.run_id,
      heartbeat_at: record.heartbeat_at,
      reason: verdict.reason,
    },
  };
}

export interface StatusOptions {
  /** Epoch ms; default Date.now(). */
  now?: number;
  /** The window of the task list to build rows for (default: every task). */
  offset?: number;
  limit?: number;
  /** The clock of status-cache.json's racy-file rule (default Date.now; tests move it on). */
  clock?: () => number;
  /** Rows only for tasks doing one of these (the API's state: what runs and what waits); counts stay whole. */
  activities?: readonly Activity[];
}

/** A task in the listing's order, before its row is built (only the rows shown are). */
type Listed = { id: string; activity: Activity } & ({ record: RecordEntry } | { spec: string });

/**
 * Everything `orch status` shows, collected from the state dir. Every file is looked at (a stat for
 * those status-cache.json knows unchanged), every task counted and sorted; whole records are read
 * only for the rows of the window asked for.
 */
export async function collectStatus(paths: StatePaths, options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? Date.now();
  const cache = StatusCacheFile.open(paths, options.clock);
  const records = await readRecordEntries(paths, cache);
  const specs = await readSpecEntries(paths, cache);
  const config = await checkFile('config', paths.config, paths, cache);
  const workers = await checkFolder('worker', paths.workers, paths, cache);
  const inbox = await checkFolder('decision', paths.inbox, paths, cache);
  const { session, invalid: badSession } = await describeSession(paths);
  await cache.save();

  const counts = emptyCounts();
  const done = new Set<string>();
  const busy: BusyTask[] = [];
  const listed: Listed[] = [];
  for (const record of records.entries) {
    const { id, summary } = record;
    counts[summary.state] += 1;
    if (summary.state === 'DONE') done.add(id);
    if (summary.paths !== undefined) busy.push({ id, footprint: { globs: summary.paths, files: [] } });
    listed.push({ id, activity: activityAt(summary, now), record });
  }
  const recorded = new Set(listed.map(task => task.id));
  for (const spec of specs.specs) {
    if (recorded.has(spec.id)) continue;
    // A spec the orchestrator has not taken up yet (it is not running, or has not seen it).
    counts.NEW += 1;
    listed.push({ id: spec.id, activity: 'queued', spec: spec.path });
  }
  listed.sort(compareByActivity);
  const total = listed.length;
  const wanted = options.activities;
  if (wanted !== undefined) listed.splice(0, listed.length, ...listed.filter(task => wanted.includes(task.activity)));
  const offset = options.offset ?? 0;
  const tasks: TaskRow[] = [];
  const vanished: InvalidFile[] = [];
  for (const task of listed.slice(offset, options.limit === undefined ? undefined : offset + options.limit)) {
    const read = await readRow(paths, task, now, done, busy);
    if ('row' in read) tasks.push(read.row);
    else if (read.invalid !== undefined) vanished.push(read.invalid);
  }
  const invalid = [
    ...(config === undefined ? [] : [config]),
    ...(badSession === undefined ? [] : [badSession]),
    ...specs.errors.map(failure => invalidFile(paths.root, 'spec', failure)),
    ...records.invalid,
    ...vanished,
    ...workers,
    ...inbox,
  ];
  return {
    root: paths.root,
    state_dir: relative(paths.root, paths.stateDir),
    session,
    counts,
    tasks,
    tasks_total: total,
    invalid,
    rejected_edits: records.rejected,
  };
}
