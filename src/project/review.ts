// `orch review` / `orch --review` (PRODUCT.md §8): the tasks waiting for a person, why, their plan, and
// the exact commands that act on each; and the FAILED tasks `orch retry --failed` retries. On the fast
// path of the CLI: it reads records only, through the precompiled validators, and loads nothing of the
// machine or the runtime.
import type { Awaiting, Review, Step, TaskRecord } from '../generated/types.js';
import type { StatePaths } from '../store/paths.js';
import { compareText, readRecords, type InvalidFile } from './read-state.js';

export interface ReviewCommand {
  /** The command line to type, e.g. `orch approve T1 --note "..."`. */
  command: string;
  /** What it does to this task. */
  effect: string;
}

/** Where a task's steps come from: its spec, its planner, or neither (the task runs as one step). */
export const PLAN_SOURCES = { spec: 'spec', planner: 'planner', none: 'none' } as const;
export type PlanSource = (typeof PLAN_SOURCES)[keyof typeof PLAN_SOURCES];

export interface ReviewStep {
  id: string;
  title: string | null;
  goal: string | null;
  state: Step['state'];
  attempts: number;
  /** The step the task stopped at (it waits in a step phase: implement or step_review). */
  current: boolean;
}

/** The plan a person approves, rejects or retries: the steps as the record holds them now. */
export interface ReviewPlan {
  source: PlanSource;
  steps: ReviewStep[];
}

export interface ReviewItem {
  id: string;
  title: string;
  since: string;
  kind: Awaiting['kind'] | null;
  reason: string;
  /** The phase it stopped at (where approve or retry take it). */
  phase: string | null;
  /** Where approval sends the task. */
  resume_state: string | null;
  last_error: { at: string; message: string; phase: string | null; reason: string | null } | null;
  last_review: Review | null;
  cost_usd: number;
  attempts: number;
  plan: ReviewPlan;
  commands: ReviewCommand[];
}

export const REVIEW_ITEM_FIELDS = [
  'id', 'title', 'since', 'kind', 'reason', 'phase', 'resume_state', 'last_error', 'last_review', 'cost_usd', 'attempts', 'plan', 'commands',
] as const satisfies readonly (keyof ReviewItem)[];

export interface ReviewList {
  items: ReviewItem[];
  /** Records that could not be read: one of them may be waiting too. */
  invalid: InvalidFile[];
}

/** False only for a record that plainly says it is in another state. */
export function mayAwaitHuman(value: unknown): boolean {
  const state = (value as { state?: unknown } | null)?.state;
  return typeof state !== 'string' || state === 'AWAITING_HUMAN';
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/).find(line => line.trim() !== '') ?? '').trim();
}

/** What approving does, by why the task waits. */
function approveEffect(awaiting: Awaiting | undefined, phase: string | null): string {
  const at = phase ?? 'its phase';
  const kind = awaiting?.kind;
  switch (kind) {
    case 'gate':
      return `let ${at} start`;
    case 'plan_rejections':
      return 'accept the plan as it is and go on to the first step';
    case 'exhausted':
    case undefined:
      return `run ${at} again with fresh attempts`;
    case 'config':
      return `run ${at} again with fresh attempts (fix the config first)`;
    case 'hand_edit':
      return `go on with ${at} from the record as it was edited (read the edit first)`;
    case 'merge_conflict':
      return 'merge the task\'s branch again (commit your resolution in its worktree first)';
    case 'rate_limit':
      return `run ${at} again (the rate-limit wait starts over)`;
    case 'no_progress':
      return `run ${at} again (the no-progress count starts over)`;
    case 'interruptions':
      return `resume ${at} (the interruption count starts over)`;
    case 'budget':
      return `carry on with ${at} past the budget`;
    case 'deadline':
      return `carry on with ${at} past the deadline`;
    default: {
      const never: never = kind;
      throw new Error(`unknown awaiting kind ${String(never)}`);
    }
  }
}

export interface ReviewCommandsOptions {
  /** How `orch` is invoked for this project, e.g. `orch --root ../app` (default `orch`). */
  orch?: string;
}

/** The exact commands that act on a waiting task, with what each does. */
export function reviewCommands(record: Pick<TaskRecord, 'id' | 'awaiting' | 'phase'>, options: ReviewCommandsOptions = {}): ReviewCommand[] {
  const orch = options.orch ?? 'orch';
  const id = record.id;
  const phase = record.awaiting?.phase ?? record.phase ?? null;
  return [
    { command: `${orch} approve ${id} --note "..."`, effect: approveEffect(record.awaiting, phase) },
    { command: `${orch} retry ${id}${phase === null ? '' : ` --from ${phase}`}`, effect: `run ${phase ?? 'the phase it stopped at'} again from its start (or --from another phase)` },
    { command: `${orch} replan ${id}`, effect: 'plan again from scratch' },
    { command: `${orch} reject ${id}`, effect: 'give up: the task is FAILED' },
    { command: `${orch} cancel ${id}`, effect: 'cancel it: the task is CANCELLED' },
  ];
}

/**
 * The id machine/record.ts gives the one step of a task with no plan (DEFAULT_STEP_ID; a test checks
 * they agree). Not imported: that module pulls in the validators, which this fast path loads only
 * for the records it checks.
 */
export const UNPLANNED_STEP_ID = 'S1';

/** Whether `steps` is no plan: none yet, or the one step a task without a plan runs (its own title and goal). */
function isUnplanned(record: Pick<TaskRecord, 'spec' | 'steps'>): boolean {
  const [only, ...rest] = record.steps;
  return only === undefined || (rest.length === 0 && only.id === UNPLANNED_STEP_ID && only.title === record.spec.title && only.goal === record.spec.goal);
}

const STEP_PHASES: ReadonlySet<string> = new Set(['implement', 'step_review']);

/** The record's steps as a plan to review, with where they came from and the step it stopped at. */
export function reviewPlan(record: Pick<TaskRecord, 'spec' | 'steps' | 'step_index' | 'phase' | 'awaiting'>): ReviewPlan {
  const source: PlanSource = record.spec.steps !== undefined ? PLAN_SOURCES.spec : isUnplanned(record) ? PLAN_SOURCES.none : PLAN_SOURCES.planner;
  const phase = record.awaiting?.phase ?? record.phase;
  const current = phase !== undefined && STEP_PHASES.has(phase) ? record.step_index : undefined;
  return {
    source,
    steps: record.steps.map((step, index) => ({
      id: step.id,
      title: step.title ?? null,
      goal: step.goal ?? null,
      state: step.state,
      attempts: step.attempts,
      current: index === current,
    })),
  };
}

export function reviewItem(record: TaskRecord, options: ReviewCommandsOptions = {}): ReviewItem {
  const awaiting = record.awaiting;
  const error = record.last_error;
  return {
    id: record.id,
    title: record.spec.title ?? firstLine(record.spec.goal ?? ''),
    since: awaiting?.since ?? record.state_since,
    kind: awaiting?.kind ?? null,
    reason: awaiting === undefined ? 'the record was set to AWAITING_HUMAN without a reason' : awaiting.reason,
    phase: awaiting?.phase ?? record.phase ?? null,
    resume_state: awaiting?.resume_state ?? null,
    last_error: error === undefined ? null : { at: error.at, message: firstLine(error.message), phase: error.phase ?? null, reason: error.reason ?? null },
    last_review: record.last_review ?? null,
    cost_usd: record.cost.usd,
    attempts: record.attempts.length,
    plan: reviewPlan(record),
    commands: reviewCommands(record, options),
  };
}

/**
 * Every task in AWAITING_HUMAN, longest waiting first. Every record is read, but only those whose
 * `state` says AWAITING_HUMAN (or that have no readable state) are schema-checked: the others are
 * `orch status`'s business, and checking them would cost the cold start the whole validator module.
 */
export async function listAwaitingHuman(paths: StatePaths, options: ReviewCommandsOptions = {}): Promise<ReviewList> {
  const { records, invalid } = await readRecords(paths, { only: mayAwaitHuman });
  const items = records.filter(record => record.state === 'AWAITING_HUMAN').map(record => reviewItem(record, options));
  items.sort((a, b) => compareText(a.since, b.since) || compareText(a.id, b.id));
  return { items, invalid };
}

/** A FAILED task, as `orch retry --failed` lists it before retrying. */
export interface FailedItem {
  id: string;
  /** The record's rev when listed: a retry is taken against it. */
  rev: number;
  title: string;
  since: string;
  /** The phase it failed in (where a retry starts it again, unless --from). */
  phase: string | null;
  /** Why, in one line: the last error, or the last transition's reason. */
  reason: string;
}

export interface FailedList {
  items: FailedItem[];
  /** Records that could not be read: one of them may be FAILED too. */
  invalid: InvalidFile[];
}

/** False only for a record that plainly says it is in another state. */
function mayBeFailed(value: unknown): boolean {
  const state = (value as { state?: unknown } | null)?.state;
  return typeof state !== 'string' || state === 'FAILED';
}

/** Every FAILED task, by id. */
export async function listFailed(paths: StatePaths): Promise<FailedList> {
  const { records, invalid } = await readRecords(paths, { only: mayBeFailed });
  const items = records
    .filter(record => record.state === 'FAILED')
    .map(record => ({
      id: record.id,
      rev: record.rev,
      title: record.spec.title ?? firstLine(record.spec.goal ?? ''),
      since: record.state_since,
      phase: record.phase ?? null,
      reason: firstLine(record.last_error?.message ?? record.history.at(-1)?.reason ?? ''),
    }));
  return { items, invalid };
}
