// `orch status`: the session, one row per task (running first, then waiting, then finished), counts
// per state, and every file that failed to load. Library code: it collects, the CLI prints.
import { relative } from 'node:path';
import { isOrchError } from '../errors.js';
import type { TaskRecord, TaskState } from '../generated/types.js';
import { firstLine } from '../machine/messages.js';
import { openAttempt } from '../machine/record.js';
import { TASK_STATE_INFO } from '../machine/states.js';
import { loadIfExists, toOrchError } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { loadSpecs } from '../store/specs.js';
import { compareText, invalidFile, listRejectedEdits, loadAllParallel, readRecords, type InvalidFile } from './read-state.js';
import { emptyCounts } from './summary.js';

/** What a task is doing now, in the order status lists them: running first, finished last. */
export const ACTIVITIES = ['running', 'active', 'backoff', 'human', 'queued', 'failed', 'cancelled', 'done'] as const;
export type Activity = (typeof ACTIVITIES)[number];

export interface TaskRow {
  id: string;
  title: string;
  state: TaskState;
  activity: Activity;
  /** The phase in progress or next (unset once the task is finished). */
  phase: string | null;
  /** The step being implemented or reviewed. */
  step: string | null;
  /** Every attempt of the task (all phases, all generations). */
  attempts: number;
  /** Attempts spent on the current phase or step. */
  phase_attempts: number;
  /** The worker running its open attempt. */
  worker: string | null;
  /** When it entered its state (null for a spec not taken up yet). */
  since: string | null;
  /** When the next attempt may start (backoff or a rate-limit park), while that is in the future. */
  waiting_until: string | null;
  /** What else it waits for: a human (and why), or its dependencies. */
  waiting_for: string | null;
  last_error: string | null;
  cost_usd: number;
  tokens: number;
  /** False for a spec the orchestrator has not taken up yet (no record). */
  recorded: boolean;
}

export const TASK_ROW_FIELDS = [
  'id', 'title', 'state', 'activity', 'phase', 'step', 'attempts', 'phase_attempts', 'worker', 'since',
  'waiting_until', 'waiting_for', 'last_error', 'cost_usd', 'tokens', 'recorded',
] as const satisfies readonly (keyof TaskRow)[];

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
  tasks: TaskRow[];
  invalid: InvalidFile[];
  rejected_edits: string[];
}

function title(record: Pick<TaskRecord, 'spec'>): string {
  return record.spec.title ?? firstLine(record.spec.goal ?? '');
}

function activityOf(record: TaskRecord, now: number): Activity {
  if (openAttempt(record) !== undefined) return 'running';
  switch (record.state) {
    case 'DONE':
      return 'done';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'AWAITING_HUMAN':
      return 'human';
    case 'NEW':
      return 'queued';
    default:
      return record.next_attempt_at !== undefined && Date.parse(record.next_attempt_at) > now ? 'backoff' : 'active';
  }
}

/** One status row of a record. `done` holds the ids of DONE tasks (for "waiting for dependencies"). */
export function taskRow(record: TaskRecord, now: number, done: ReadonlySet<string> = new Set()): TaskRow {
  const activity = activityOf(record, now);
  const terminal = TASK_STATE_INFO[record.state].terminal;
  const open = openAttempt(record);
  const stepIndex = record.step_index;
  const inStep = !terminal && (record.phase === 'implement' || record.phase === 'step_review') && stepIndex !== undefined;
  const pendingDeps = (record.spec.depends_on ?? []).filter(dep => !done.has(dep));
  let waitingFor: string | null = null;
  if (record.state === 'AWAITING_HUMAN') {
    waitingFor = record.awaiting === undefined ? 'human' : `human (${record.awaiting.kind}): ${firstLine(record.awaiting.reason)}`;
  } else if (record.state === 'NEW' && pendingDeps.length > 0) {
    waitingFor = `dependencies: ${pendingDeps.join(', ')}`;
  }
  return {
    id: record.id,
    title: title(record),
    state: record.state,
    activity,
    phase: terminal ? null : (open?.phase ?? record.phase ?? null),
    step: open?.step_id ?? (inStep ? (record.steps[stepIndex]?.id ?? null) : null),
    attempts: record.attempts.length,
    phase_attempts: record.phase_attempts ?? 0,
    worker: open?.worker ?? null,
    since: record.state_since,
    waiting_until: activity === 'backoff' ? (record.next_attempt_at ?? null) : null,
    waiting_for: waitingFor,
    last_error: record.last_error === undefined || record.state === 'DONE' ? null : firstLine(record.last_error.message),
    cost_usd: record.cost.usd,
    tokens: record.cost.tokens,
    recorded: true,
  };
}

/** Running first, then waiting (backoff, human, queued), then finished; by id within each. */
export function sortRows(rows: TaskRow[]): TaskRow[] {
  return rows.sort((a, b) => ACTIVITIES.indexOf(a.activity) - ACTIVITIES.indexOf(b.activity) || compareText(a.id, b.id));
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
}

/** Everything `orch status` shows, collected from the state dir. */
export async function collectStatus(paths: StatePaths, options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? Date.now();
  // Each record is turned into its row as it is read: 100,000 parsed records do not fit the memory
  // a listing should take. Whether a NEW task's dependencies are DONE is settled once all are read.
  const [{ records, invalid: badRecords }, rejectedEdits, specs, workers, inbox, session, config] = await Promise.all([
    readRecords(paths, { map: record => ({ id: record.id, row: taskRow(record, now), dependsOn: record.state === 'NEW' ? record.spec.depends_on : undefined }) }),
    listRejectedEdits(paths),
    loadSpecs(paths.tasks),
    loadAllParallel('worker', paths.workers),
    loadAllParallel('decision', paths.inbox),
    describeSession(paths),
    loadIfExists('config', paths.config).then(
      () => undefined,
      (error: unknown) => invalidFile(paths.root, 'config', { path: paths.config, error: toOrchError(paths.config, error) }),
    ),
  ]);
  const done = new Set(records.filter(r => r.row.state === 'DONE').map(r => r.id));
  const rows = records.map(({ row, dependsOn }) => {
    if (dependsOn === undefined) return row;
    const pending = dependsOn.filter(dep => !done.has(dep));
    return { ...row, waiting_for: pending.length > 0 ? `dependencies: ${pending.join(', ')}` : null };
  });
  const recorded = new Set(records.map(r => r.id));
  for (const spec of specs.specs) {
    if (recorded.has(spec.id)) continue;
    // A spec the orchestrator has not taken up yet (it is not running, or has not seen it).
    const pending = spec.spec.depends_on?.filter(dep => !done.has(dep)) ?? [];
    rows.push({
      id: spec.id, title: spec.spec.title ?? firstLine(spec.spec.goal ?? ''), state: 'NEW', activity: 'queued', phase: null, step: null,
      attempts: 0, phase_attempts: 0, worker: null, since: null, waiting_until: null,
      waiting_for: pending.length > 0 ? `dependencies: ${pending.join(', ')}` : 'the orchestrator to take it up',
      last_error: null, cost_usd: 0, tokens: 0, recorded: false,
    });
  }
  const counts = emptyCounts();
  for (const row of rows) counts[row.state] += 1;
  const invalid = [
    ...(config === undefined ? [] : [config]),
    ...(session.invalid === undefined ? [] : [session.invalid]),
    ...specs.errors.map(failure => invalidFile(paths.root, 'spec', failure)),
    ...badRecords,
    ...workers.errors.map(failure => invalidFile(paths.root, 'worker', failure)),
    ...inbox.errors.map(failure => invalidFile(paths.root, 'decision', failure)),
  ];
  return {
    root: paths.root,
    state_dir: relative(paths.root, paths.stateDir),
    session: session.session,
    counts,
    tasks: sortRows(rows),
    invalid,
    rejected_edits: rejectedEdits,
  };
}
