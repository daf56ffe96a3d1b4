// The moves transition() is built from, applied to a private draft copy of the record: hop to a state
// (checked against the legal table and written to history), park for a human, fail, and walk the
// workflow forward to the next thing to run. Internal to src/machine.
import type { Actor, Awaiting, PhaseName, Step, StepState, TaskRecord, TaskState } from '../generated/types.js';
import type { Effect, LogCategory, LogLevel } from './events.js';
import { completedMessage, firstLine, taskTitle } from './messages.js';
import { isStepPhase, PHASES, roleOfPhase, stateOfPhase } from './states.js';
import { assertLegal, isLegalStepMove } from './transitions.js';
import type { ResolvedWorkflow } from './workflow.js';

/** What transition() needs besides the record and the event: time, the workflow, randomness. */
export interface TransitionContext {
  /** Epoch milliseconds: the time of the event. */
  readonly now: number;
  /** The workflow resolved for the record's spec (for spec_changed: for the new spec). */
  readonly workflow: ResolvedWorkflow;
  /** In [0, 1): the backoff jitter. */
  readonly random: () => number;
  /** config.max_interruptions: interrupted attempts before the task is parked for a human. */
  readonly maxInterruptions: number;
}

/** A mutable copy of the record and the effects gathered so far. */
export interface Draft {
  readonly r: TaskRecord;
  effects: Effect[];
  readonly ctx: TransitionContext;
}

/** Where in the workflow a task is: a phase, with the step for implement and step_review. */
export interface Position {
  readonly phase: PhaseName | 'done';
  readonly step: number;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function log(d: Draft, category: LogCategory, level: LogLevel, message: string, details?: readonly string[]): void {
  d.effects.push({ type: 'log', category, level, message, ...(details === undefined ? {} : { details }) });
}

/** Moves the task to `to`, if the table allows `actor` to, and writes the move to history. */
export function hop(d: Draft, to: TaskState, actor: Actor, reason: string, action?: string): void {
  assertLegal(d.r, to, actor, action);
  const at = iso(d.ctx.now);
  d.r.history.push({ at, from: d.r.state, to, reason, actor, generation: d.r.generation });
  if (d.r.state === 'AWAITING_HUMAN') delete d.r.awaiting;
  d.r.state = to;
  d.r.state_since = at;
}

export function setStepState(step: Step, to: StepState): void {
  if (!isLegalStepMove(step.state, to)) throw new Error(`step ${step.id}: ${step.state} → ${to} is not a legal step move`);
  step.state = to;
}

export function currentStep(r: TaskRecord): Step | undefined {
  return r.step_index === undefined ? undefined : r.steps[r.step_index];
}

/** The reason written to history when a task stops at a human gate; how a gate is known to be asked. */
export function gateReason(phase: PhaseName): string {
  return `human gate before ${phase}`;
}

/** Each gate is asked at most once per generation: approving it, or any later decision, passes it. */
export function gateAsked(r: TaskRecord, phase: PhaseName): boolean {
  const reason = gateReason(phase);
  return r.history.some(h => h.to === 'AWAITING_HUMAN' && h.reason === reason && (h.generation ?? r.generation) === r.generation);
}

export function park(d: Draft, kind: Awaiting['kind'], reason: string, resume: TaskState, phase: PhaseName | undefined): void {
  hop(d, 'AWAITING_HUMAN', 'orch', kind === 'gate' && phase !== undefined ? gateReason(phase) : reason);
  d.r.awaiting = { since: iso(d.ctx.now), kind, reason, resume_state: resume, ...(phase === undefined ? {} : { phase }) };
  delete d.r.next_attempt_at;
  d.effects = d.effects.filter(effect => effect.type !== 'run_phase');
  log(d, 'human_review', 'warning', `⏸️  Task ${d.r.id} awaiting human review (${kind}): ${firstLine(reason)}`);
}

export function fail(d: Draft, reason: string, actor: Actor = 'orch', action?: string): void {
  hop(d, 'FAILED', actor, reason, action);
  const step = currentStep(d.r);
  if (step !== undefined && !['COMPLETED', 'FAILED'].includes(step.state)) setStepState(step, 'FAILED');
  delete d.r.next_attempt_at;
  d.effects = d.effects.filter(effect => effect.type !== 'run_phase');
  log(d, 'task', 'error', completedMessage(d.r, 'failed', d.ctx.now), [reason]);
}

function setPosition(r: TaskRecord, pos: Position): void {
  if (pos.phase === 'done') return;
  r.phase = pos.phase;
  if (isStepPhase(pos.phase)) r.step_index = pos.step;
}

/** The position after `pos` in a task's walk: plan, plan_review, each step (implement, step_review), code_review, quality_gate. */
export function nextPosition(r: TaskRecord, pos: Position): Position {
  switch (pos.phase) {
    case 'plan':
      return { phase: 'plan_review', step: 0 };
    case 'plan_review':
      return { phase: 'implement', step: 0 };
    case 'implement':
      return { phase: 'step_review', step: pos.step };
    case 'step_review':
      return pos.step + 1 < r.steps.length ? { phase: 'implement', step: pos.step + 1 } : { phase: 'code_review', step: pos.step };
    case 'code_review':
      return { phase: 'quality_gate', step: pos.step };
    case 'quality_gate':
    case 'done':
      return { phase: 'done', step: pos.step };
    default: {
      const never: never = pos.phase;
      throw new Error(`unknown phase ${String(never)}`);
    }
  }
}

/** Leaving `pos` forward: a step leaving its review is completed. */
function complete(d: Draft, pos: Position): void {
  if (pos.phase !== 'step_review') return;
  const step = d.r.steps[pos.step];
  if (step === undefined || step.state === 'COMPLETED') return;
  setStepState(step, 'COMPLETED');
  delete d.r.feedback;
  log(d, 'task', 'success', `Step ${step.id} completed (task=${d.r.id})`);
}

/** Finishes `pos` and walks on to the next thing to run (or gate, or DONE). */
export function advanceFrom(d: Draft, pos: Position): void {
  complete(d, pos);
  enterPosition(d, nextPosition(d.r, pos), true);
}

/**
 * Walks forward from `pos`: skipped phases are stepped over, a gate not yet asked parks the task,
 * a phase with something to run starts (effect run_phase), one with nothing passes straight through.
 * `gate` false: the first position's gate counts as passed (a person sent the task there).
 */
export function enterPosition(d: Draft, start: Position, gate: boolean): void {
  const wf = d.ctx.workflow;
  let pos = start;
  let checkGate = gate;
  for (let guard = 0; guard < PHASES.length * (d.r.steps.length + 2) + 4; guard++) {
    if (pos.phase === 'done') {
      leavePlanStage(d);
      hop(d, 'DONE', 'orch', 'all phases passed');
      delete d.r.next_attempt_at;
      delete d.r.feedback;
      log(d, 'task', 'success', completedMessage(d.r, 'done', d.ctx.now));
      return;
    }
    const phase = wf.phases[pos.phase];
    const stepless = isStepPhase(pos.phase) && d.r.steps[pos.step] === undefined;
    if (phase.skipped || stepless) {
      pos = stepless ? { phase: 'code_review', step: Math.max(0, d.r.steps.length - 1) } : nextPosition(d.r, pos);
      continue;
    }
    if (pos.phase !== 'plan' && pos.phase !== 'plan_review') leavePlanStage(d);
    if (checkGate && phase.gated && !gateAsked(d.r, pos.phase)) {
      setPosition(d.r, pos);
      park(d, 'gate', `Human gate before ${pos.phase}`, stateOfPhase(pos.phase), pos.phase);
      return;
    }
    checkGate = true;
    if (phase.runs) {
      startPhase(d, pos);
      return;
    }
    complete(d, pos);
    pos = nextPosition(d.r, pos);
  }
  throw new Error(`task ${d.r.id}: the workflow walk did not end`);
}

/** Plan and plan review are over: a task that planned records PLAN_APPROVED on its way on. */
function leavePlanStage(d: Draft): void {
  if (d.r.state !== 'PLANNING' && d.r.state !== 'PLAN_REVIEW') return;
  hop(d, 'PLAN_APPROVED', 'orch', 'plan approved');
  delete d.r.feedback;
}

export interface StartOptions {
  /** Keep phase_attempts (a person resumed a parked phase without resetting its attempts). */
  readonly keepAttempts?: boolean;
}

/** Puts the task in the phase's state and asks the runtime to run it. */
export function startPhase(d: Draft, pos: Position, options: StartOptions = {}): void {
  if (pos.phase === 'done') throw new Error('startPhase: done is not a phase');
  const phase = d.ctx.workflow.phases[pos.phase];
  const state = stateOfPhase(pos.phase);
  if (d.r.state !== state) hop(d, state, 'orch', `${pos.phase} starts`);
  setPosition(d.r, pos);
  const step = isStepPhase(pos.phase) ? d.r.steps[pos.step] : undefined;
  if (step !== undefined) setStepState(step, pos.phase === 'implement' ? 'IMPLEMENTING' : 'REVIEWING');
  if (options.keepAttempts !== true) {
    // implement's attempts belong to the step, so rework after a rejection counts against the same budget.
    d.r.phase_attempts = pos.phase === 'implement' && step !== undefined ? step.attempts : 0;
    if (phase.model !== undefined) {
      const reason = phase.routing?.reason ?? 'workflow default';
      log(d, 'routing', 'info', `Routing [${roleOfPhase(pos.phase)}] → ${phase.model}: ${reason} (task=${d.r.id})`);
    }
  }
  delete d.r.next_attempt_at;
  d.effects.push(runPhaseEffect(pos.phase, step?.id, undefined));
}

export function runPhaseEffect(phase: PhaseName, stepId: string | undefined, notBefore: number | undefined): Effect {
  return {
    type: 'run_phase',
    phase,
    ...(stepId === undefined ? {} : { step_id: stepId }),
    ...(notBefore === undefined ? {} : { not_before: notBefore }),
  };
}

/** Where the task is now, as a position. */
export function positionOf(r: TaskRecord): Position {
  return { phase: r.phase ?? 'implement', step: r.step_index ?? 0 };
}

/** Logs the task's start line. */
export function logStart(d: Draft): void {
  log(d, 'task', 'info', `Task ${d.r.id} started: ${taskTitle(d.r.spec)}`);
}
