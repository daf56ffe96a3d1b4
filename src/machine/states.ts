// Task states, step states and phases, derived from the generated types: each map below must name
// every member of its union (`satisfies Record<…>`), so a state added to the schema fails to compile
// here until it is placed.
import type { Actor, PhaseName, StepState, TaskState } from '../generated/types.js';

/** Per task state: is it final, and which phase runs while the task is in it. */
export const TASK_STATE_INFO = {
  NEW: { terminal: false, phase: undefined },
  PLANNING: { terminal: false, phase: 'plan' },
  PLAN_REVIEW: { terminal: false, phase: 'plan_review' },
  PLAN_APPROVED: { terminal: false, phase: undefined },
  PLAN_REJECTED: { terminal: false, phase: undefined },
  IMPLEMENTING: { terminal: false, phase: 'implement' },
  CODE_REVIEW: { terminal: false, phase: 'code_review' },
  QUALITY_GATE: { terminal: false, phase: 'quality_gate' },
  AWAITING_HUMAN: { terminal: false, phase: undefined },
  DONE: { terminal: true, phase: undefined },
  FAILED: { terminal: true, phase: undefined },
  CANCELLED: { terminal: true, phase: undefined },
} as const satisfies Record<TaskState, { terminal: boolean; phase: PhaseName | undefined }>;

export const TASK_STATES = Object.keys(TASK_STATE_INFO) as readonly TaskState[];

export const TERMINAL_STATES = TASK_STATES.filter(state => TASK_STATE_INFO[state].terminal);

/** Per phase: the task state it runs in and the role name the run log and cost.by_role use. */
export const PHASE_INFO = {
  plan: { state: 'PLANNING', role: 'planner', order: 0 },
  plan_review: { state: 'PLAN_REVIEW', role: 'plan_reviewer', order: 1 },
  implement: { state: 'IMPLEMENTING', role: 'implementer', order: 2 },
  step_review: { state: 'IMPLEMENTING', role: 'step_reviewer', order: 3 },
  code_review: { state: 'CODE_REVIEW', role: 'code_reviewer', order: 4 },
  quality_gate: { state: 'QUALITY_GATE', role: 'quality_gate', order: 5 },
} as const satisfies Record<PhaseName, { state: TaskState; role: string; order: number }>;

/** The phases in the order a task goes through them. */
export const PHASES = (Object.keys(PHASE_INFO) as PhaseName[]).sort(
  (a, b) => PHASE_INFO[a].order - PHASE_INFO[b].order,
) as readonly PhaseName[];

/** Phases that run once per step of the plan. */
export const STEP_PHASES: readonly PhaseName[] = ['implement', 'step_review'];

export const STEP_STATE_INFO = {
  PENDING: { done: false },
  IMPLEMENTING: { done: false },
  REVIEWING: { done: false },
  COMPLETED: { done: true },
  FAILED: { done: true },
} as const satisfies Record<StepState, { done: boolean }>;

export const STEP_STATES = Object.keys(STEP_STATE_INFO) as readonly StepState[];

const ACTOR_INFO = { orch: { human: false }, cli: { human: true }, human: { human: true } } as const satisfies Record<
  Actor,
  { human: boolean }
>;
export const ACTORS = Object.keys(ACTOR_INFO) as readonly Actor[];
/** The actors that stand for a person: `orch approve` (cli), a hand edit or inbox file (human). */
export type HumanActor = Exclude<Actor, 'orch'>;

export function isTerminal(state: TaskState): boolean {
  return TASK_STATE_INFO[state].terminal;
}

/** The phase that runs while a task is in `state`, if any. */
export function phaseOfState(state: TaskState): PhaseName | undefined {
  return TASK_STATE_INFO[state].phase;
}

export function stateOfPhase(phase: PhaseName): TaskState {
  return PHASE_INFO[phase].state;
}

export function roleOfPhase(phase: PhaseName): string {
  return PHASE_INFO[phase].role;
}

export function isStepPhase(phase: PhaseName): boolean {
  return STEP_PHASES.includes(phase);
}
