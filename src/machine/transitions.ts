// THE table of legal task-state transitions (PRODUCT.md §3), with who may make each one. transition()
// checks every hop it makes against it, so nothing else in the code decides what is legal.
import { OrchError } from '../errors.js';
import type { Actor, StepState, TaskRecord, TaskState } from '../generated/types.js';

const ORCH = ['orch'] as const satisfies readonly Actor[];
const PERSON = ['cli', 'human'] as const satisfies readonly Actor[];
const ANYONE = ['orch', 'cli', 'human'] as const satisfies readonly Actor[];

type TransitionTable = { readonly [From in TaskState]: { readonly [To in TaskState]?: readonly Actor[] } };

/**
 * from → { to: actors allowed }. orch moves a task forward (a phase with nothing to run is skipped,
 * so a state may jump several phases ahead), back to implementing on a rejection, and into
 * AWAITING_HUMAN, FAILED or DONE. A person moves it out of AWAITING_HUMAN (approve, reject, retry,
 * replan) or FAILED (retry, replan). Anyone may cancel an unfinished task. orch alone starts a new
 * generation of a finished one (its spec changed).
 */
export const LEGAL_TRANSITIONS = {
  NEW: {
    PLANNING: ORCH, PLAN_REVIEW: ORCH, IMPLEMENTING: ORCH, CODE_REVIEW: ORCH, QUALITY_GATE: ORCH, DONE: ORCH,
    AWAITING_HUMAN: ORCH, CANCELLED: ANYONE,
  },
  PLANNING: { PLAN_REVIEW: ORCH, PLAN_APPROVED: ORCH, AWAITING_HUMAN: ORCH, FAILED: ORCH, CANCELLED: ANYONE },
  PLAN_REVIEW: { PLAN_APPROVED: ORCH, PLAN_REJECTED: ORCH, AWAITING_HUMAN: ORCH, FAILED: ORCH, CANCELLED: ANYONE },
  PLAN_APPROVED: {
    IMPLEMENTING: ORCH, CODE_REVIEW: ORCH, QUALITY_GATE: ORCH, DONE: ORCH, AWAITING_HUMAN: ORCH, CANCELLED: ANYONE,
  },
  PLAN_REJECTED: { PLANNING: ORCH, PLAN_REVIEW: ORCH, AWAITING_HUMAN: ORCH, CANCELLED: ANYONE },
  IMPLEMENTING: { CODE_REVIEW: ORCH, QUALITY_GATE: ORCH, DONE: ORCH, AWAITING_HUMAN: ORCH, FAILED: ORCH, CANCELLED: ANYONE },
  CODE_REVIEW: { IMPLEMENTING: ORCH, QUALITY_GATE: ORCH, DONE: ORCH, AWAITING_HUMAN: ORCH, FAILED: ORCH, CANCELLED: ANYONE },
  QUALITY_GATE: { IMPLEMENTING: ORCH, DONE: ORCH, AWAITING_HUMAN: ORCH, FAILED: ORCH, CANCELLED: ANYONE },
  AWAITING_HUMAN: {
    PLANNING: PERSON, PLAN_REVIEW: PERSON, PLAN_APPROVED: PERSON, IMPLEMENTING: PERSON, CODE_REVIEW: PERSON,
    QUALITY_GATE: PERSON, FAILED: PERSON, CANCELLED: ANYONE,
  },
  DONE: { NEW: ORCH },
  FAILED: {
    NEW: ORCH, PLANNING: PERSON, PLAN_REVIEW: PERSON, IMPLEMENTING: PERSON, CODE_REVIEW: PERSON, QUALITY_GATE: PERSON,
  },
  CANCELLED: { NEW: ORCH },
} as const satisfies TransitionTable;

/** Step states: a step is implemented, maybe reviewed, and sent back by a rejection. orch only. */
export const STEP_TRANSITIONS = {
  PENDING: ['IMPLEMENTING', 'REVIEWING', 'COMPLETED', 'FAILED'],
  IMPLEMENTING: ['REVIEWING', 'COMPLETED', 'FAILED', 'PENDING'],
  REVIEWING: ['IMPLEMENTING', 'COMPLETED', 'FAILED', 'PENDING'],
  COMPLETED: ['IMPLEMENTING', 'PENDING'],
  FAILED: ['IMPLEMENTING', 'PENDING'],
} as const satisfies { readonly [From in StepState]: readonly StepState[] };

/** The actors allowed to move a task from `from` to `to` (empty: nobody). */
export function allowedActors(from: TaskState, to: TaskState): readonly Actor[] {
  const row: { readonly [To in TaskState]?: readonly Actor[] } = LEGAL_TRANSITIONS[from];
  return row[to] ?? [];
}

export function isLegal(from: TaskState, to: TaskState, actor: Actor): boolean {
  return allowedActors(from, to).includes(actor);
}

/**
 * Throws ORCH_ILLEGAL_TRANSITION, naming the task, both states and the actor, unless the table lets
 * `actor` move `record` to `to`. `action` (an event type such as "approve") makes the message clearer.
 */
export function assertLegal(record: Pick<TaskRecord, 'id' | 'state'>, to: TaskState, actor: Actor, action?: string): void {
  if (isLegal(record.state, to, actor)) return;
  const allowed = allowedActors(record.state, to);
  const what = action === undefined ? '' : ` (${action})`;
  const why = allowed.length === 0 ? 'is not a legal transition' : `is only allowed for ${allowed.join(', ')}`;
  throw new OrchError(
    'ORCH_ILLEGAL_TRANSITION',
    `Task ${record.id}: ${record.state} → ${to}${what} by ${actor} ${why}`,
    {
      details: { task: record.id, from: record.state, to, actor, ...(action === undefined ? {} : { action }) },
      hint: record.state === 'AWAITING_HUMAN' || record.state === 'FAILED' ? undefined : `orch show ${record.id} shows its state and history`,
    },
  );
}

export function isLegalStepMove(from: StepState, to: StepState): boolean {
  const row: readonly StepState[] = STEP_TRANSITIONS[from];
  return from === to || row.includes(to);
}
