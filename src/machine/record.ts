// Building a task record and reading facts off one: its steps, its open attempt, the phase it runs now.
import type { Attempt, PhaseName, Step, TaskRecord, TaskSpec } from '../generated/types.js';
import { CURRENT_VERSION } from '../schema/validators.js';
import { isStepPhase, PHASES, phaseOfState, stateOfPhase } from './states.js';
import type { ResolvedWorkflow } from './workflow.js';

/** The id of the one step of a task that has no plan. */
export const DEFAULT_STEP_ID = 'S1';

/**
 * A NEW record for `spec`. rev 1 and epoch 0 are placeholders: the store sets both when it writes.
 * `now` is epoch ms.
 */
export function createRecord(spec: TaskSpec, id: string, specFile: string, specHash: string, now: number): TaskRecord {
  const at = new Date(now).toISOString();
  return {
    version: CURRENT_VERSION.record,
    rev: 1,
    epoch: 0,
    id,
    generation: 1,
    state: 'NEW',
    state_since: at,
    created_at: at,
    updated_at: at,
    spec_file: specFile,
    spec_hash: specHash,
    spec,
    steps: [],
    attempts: [],
    phase_attempts: 0,
    counters: { interruptions: 0, plan_rejections: 0, same_error: 0 },
    cost: { usd: 0, tokens: 0, by_role: {} },
    history: [],
  };
}

/** The spec's own steps, or one step (S1) carrying the task's title and goal. */
export function initialSteps(spec: TaskSpec): Step[] {
  const planned = spec.steps ?? [{ id: DEFAULT_STEP_ID, ...pick(spec) }];
  return planned.map(step => ({ id: step.id, ...pick(step), state: 'PENDING', attempts: 0 }));
}

function pick(from: { title?: string; goal?: string }): { title?: string; goal?: string } {
  return {
    ...(from.title === undefined ? {} : { title: from.title }),
    ...(from.goal === undefined ? {} : { goal: from.goal }),
  };
}

/** The attempt still running (no ended_at), if any: at most one per task. */
export function openAttempt(record: Pick<TaskRecord, 'attempts'>): Attempt | undefined {
  for (let i = record.attempts.length - 1; i >= 0; i--) {
    const attempt = record.attempts[i];
    if (attempt !== undefined && attempt.ended_at === undefined) return attempt;
  }
  return undefined;
}

/** The `n` of the task's next attempt (n counts every attempt of every generation, from 1). */
export function nextAttemptNumber(record: Pick<TaskRecord, 'attempts'>): number {
  return record.attempts.reduce((max, attempt) => Math.max(max, attempt.n), 0) + 1;
}

/** What the runtime should run for a task, and its env values. */
export interface PhaseRun {
  readonly phase: PhaseName;
  readonly step_id: string | undefined;
  readonly step_index: number | undefined;
  /** ORCH_ATTEMPT: the number of this run within the phase (implement: within the step), from 1. */
  readonly attempt: number;
  /** Epoch ms before which it must not start (backoff or rate-limit park), if any. */
  readonly not_before: number | undefined;
}

/** The phase a task in a running state (PLANNING, PLAN_REVIEW, IMPLEMENTING, CODE_REVIEW, QUALITY_GATE) runs now. */
export function currentPhase(record: TaskRecord): PhaseRun | undefined {
  const statePhase = phaseOfState(record.state);
  if (statePhase === undefined) return undefined;
  const phase = record.phase !== undefined && stateOfPhase(record.phase) === record.state ? record.phase : statePhase;
  return runOf(record, phase, record.step_index ?? 0);
}

/**
 * currentPhase, and for a task between phases the phase it goes to: NEW its first phase with something
 * to run (gates aside), PLAN_APPROVED its first step, PLAN_REJECTED planning. undefined for a task that
 * waits for a person or is finished.
 */
export function nextPhase(record: TaskRecord, workflow: ResolvedWorkflow): PhaseRun | undefined {
  switch (record.state) {
    case 'NEW': {
      const first = PHASES.find(phase => workflow.phases[phase].runs);
      if (first === undefined) return undefined;
      const steps = initialSteps(record.spec);
      return runOf({ ...record, steps }, first, 0);
    }
    case 'PLAN_APPROVED':
      return runOf(record, 'implement', 0);
    case 'PLAN_REJECTED':
      return runOf(record, 'plan', 0);
    default:
      return currentPhase(record);
  }
}

function runOf(record: TaskRecord, phase: PhaseName, stepIndex: number): PhaseRun {
  const step = isStepPhase(phase) ? record.steps[stepIndex] : undefined;
  const sameRun = record.phase === phase && (!isStepPhase(phase) || record.step_index === stepIndex);
  const spent = phase === 'implement' && step !== undefined ? step.attempts : sameRun ? (record.phase_attempts ?? 0) : 0;
  return {
    phase,
    step_id: step?.id,
    step_index: isStepPhase(phase) ? stepIndex : undefined,
    attempt: spent + 1,
    not_before: record.next_attempt_at === undefined ? undefined : Date.parse(record.next_attempt_at),
  };
}
