// One row of `orch status` per task record: what it is doing, where, since when, and what it waits
// for; and the summary of a record that status keeps for every task (status-cache.json) to count,
// sort and page them, reading whole records only for the rows it shows.
import type { Activity, CachedRecord, TaskRecord, TaskSpec, TaskState } from '../generated/types.js';
import { firstOverlap, type Footprint } from '../machine/footprint.js';
import { firstLine } from '../machine/messages.js';
import { openAttempt } from '../machine/record.js';
import { TASK_STATE_INFO } from '../machine/states.js';
import { compareText } from './read-state.js';

/** What a task is doing now, in the order status lists them: running first, finished last. */
export const ACTIVITIES = ['running', 'active', 'backoff', 'human', 'queued', 'failed', 'cancelled', 'done'] as const satisfies readonly Activity[];

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
  /** The host its open attempt runs on (a remote executor); null on this machine. */
  host: string | null;
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
  'id', 'title', 'state', 'activity', 'phase', 'step', 'attempts', 'phase_attempts', 'worker', 'host', 'since',
  'waiting_until', 'waiting_for', 'last_error', 'cost_usd', 'tokens', 'recorded',
] as const satisfies readonly (keyof TaskRow)[];

function title(record: Pick<TaskRecord, 'spec'>): string {
  return record.spec.title ?? firstLine(record.spec.goal ?? '');
}

/** What a task is doing, but for the time: 'active' stands for "active, or in backoff until retry_at". */
function activityOf(record: TaskRecord): Activity {
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
      return 'active';
  }
}

/** What status needs of every record (status-cache.json keeps it, by id): enough to count, sort and page. */
export type RecordSummary = Omit<CachedRecord, 'sig'>;

export function summarizeRecord(record: TaskRecord): RecordSummary {
  const activity = activityOf(record);
  const started = record.state !== 'NEW' && !TASK_STATE_INFO[record.state].terminal;
  return {
    state: record.state,
    activity,
    ...(activity === 'active' && record.next_attempt_at !== undefined && { retry_at: record.next_attempt_at }),
    ...(started && record.spec.paths !== undefined && record.spec.paths.length > 0 && { paths: record.spec.paths }),
  };
}

/** A started, unfinished task's declared paths: a NEW task whose paths meet them waits. */
export interface BusyTask {
  id: string;
  footprint: Footprint;
}

/** Why a NEW task has not started: a dependency not DONE, or a started task whose paths meet its own. */
export function waitingToStart(spec: TaskSpec, done: ReadonlySet<string>, busy: readonly BusyTask[]): string | null {
  const dependencies = waitingForDependencies(spec.depends_on, done);
  if (dependencies !== null) return dependencies;
  const overlap = firstOverlap({ globs: spec.paths ?? [], files: [] }, busy);
  return overlap === undefined ? null : `task ${overlap.id}: their paths overlap (${overlap.where})`;
}

/** What the task is doing at `now`: an active task whose next attempt is still ahead is in backoff. */
export function activityAt(summary: Pick<RecordSummary, 'activity' | 'retry_at'>, now: number): Activity {
  return summary.activity === 'active' && summary.retry_at !== undefined && Date.parse(summary.retry_at) > now ? 'backoff' : summary.activity;
}

export function waitingForDependencies(dependsOn: readonly string[] | undefined, done: ReadonlySet<string>): string | null {
  const pending = (dependsOn ?? []).filter(dep => !done.has(dep));
  return pending.length > 0 ? `dependencies: ${pending.join(', ')}` : null;
}

/** One status row of a record. `done` holds the ids of DONE tasks (for "waiting for dependencies"). */
export function taskRow(record: TaskRecord, now: number, done: ReadonlySet<string> = new Set(), busy: readonly BusyTask[] = []): TaskRow {
  const summary = summarizeRecord(record);
  const activity = activityAt(summary, now);
  const terminal = TASK_STATE_INFO[record.state].terminal;
  const open = openAttempt(record);
  const stepIndex = record.step_index;
  const inStep = !terminal && (record.phase === 'implement' || record.phase === 'step_review') && stepIndex !== undefined;
  let waitingFor: string | null = null;
  if (record.state === 'AWAITING_HUMAN') {
    waitingFor = record.awaiting === undefined ? 'human' : `human (${record.awaiting.kind}): ${firstLine(record.awaiting.reason)}`;
  } else if (record.state === 'NEW') {
    waitingFor = waitingToStart(record.spec, done, busy);
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
    host: open?.remote?.host ?? null,
    since: record.state_since,
    waiting_until: activity === 'backoff' ? (summary.retry_at ?? null) : null,
    waiting_for: waitingFor,
    last_error: record.last_error === undefined || record.state === 'DONE' ? null : firstLine(record.last_error.message),
    cost_usd: record.cost.usd,
    tokens: record.cost.tokens,
    recorded: true,
  };
}

const ACTIVITY_RANK = new Map<Activity, number>(ACTIVITIES.map((activity, rank) => [activity, rank]));

/** The order of status: running first, then waiting (backoff, human, queued), then finished; by id within each. */
export function compareByActivity(a: { activity: Activity; id: string }, b: { activity: Activity; id: string }): number {
  return (ACTIVITY_RANK.get(a.activity) ?? 0) - (ACTIVITY_RANK.get(b.activity) ?? 0) || compareText(a.id, b.id);
}
