// A person's decisions (PRODUCT.md §8): approve, reject, retry, replan. Each is checked against the
// legal table with the person as actor, and its note is kept (last_review, and feedback when the task
// is sent back to work).
import type { PhaseName, TaskState } from '../generated/types.js';
import type { TaskEvent } from './events.js';
import { advanceFrom, enterPosition, fail, hop, iso, log, positionOf, startPhase, type Draft, type Position } from './flow.js';
import { firstLine } from './messages.js';
import { initialSteps } from './record.js';
import { isStepPhase, phaseOfState, stateOfPhase } from './states.js';
import { assertLegal } from './transitions.js';

type Decide<T extends TaskEvent['type']> = Extract<TaskEvent, { type: T }>;
type AnyDecision = Decide<'approve' | 'reject' | 'retry' | 'replan'>;

function describe(ev: AnyDecision, what: string): string {
  return `${what} by ${ev.actor}${ev.note === undefined ? '' : `: ${firstLine(ev.note)}`}`;
}

/** Records the decision's note, and clears a deadline the person has chosen to run past. */
function note(d: Draft, ev: AnyDecision, outcome: 'approved' | 'rejected', phase: PhaseName | undefined): void {
  d.r.last_review = {
    at: iso(d.ctx.now), by: ev.actor, outcome, ...(phase === undefined ? {} : { phase }), ...(ev.note === undefined ? {} : { notes: ev.note }),
  };
  if (ev.note !== undefined) d.r.feedback = ev.note;
  if (d.r.deadline_at !== undefined && Date.parse(d.r.deadline_at) <= d.ctx.now) delete d.r.deadline_at;
}

/** Runs `pos` again (or walks on from it when it has nothing to run). */
function resume(d: Draft, pos: Position, keepAttempts: boolean): void {
  if (pos.phase !== 'done' && d.ctx.workflow.phases[pos.phase].runs) startPhase(d, pos, { keepAttempts });
  else enterPosition(d, pos, false);
}

export function approve(d: Draft, ev: Decide<'approve'>): void {
  const r = d.r;
  const awaiting = r.awaiting;
  const kind = awaiting?.kind;
  const target: TaskState = awaiting?.resume_state ?? (r.state === 'AWAITING_HUMAN' ? stateOfPhase(r.phase ?? 'implement') : r.state);
  assertLegal(r, target, ev.actor, 'approve');
  note(d, ev, 'approved', awaiting?.phase ?? r.phase);
  log(d, 'human_review', 'info', `Task ${r.id}: ${kind ?? 'wait'} ${describe(ev, 'approved')}`);
  hop(d, target, ev.actor, describe(ev, 'approved'), 'approve');
  const statePhase = phaseOfState(target);
  if (kind === 'plan_rejections' || statePhase === undefined) {
    // The plan stands as it is (PLAN_APPROVED): on to the first step.
    advanceFrom(d, { phase: 'plan_review', step: 0 });
    return;
  }
  if (awaiting?.phase !== undefined && stateOfPhase(awaiting.phase) === target) r.phase = awaiting.phase;
  else r.phase = statePhase;
  const pos = positionOf(r);
  switch (kind) {
    case 'gate':
      enterPosition(d, pos, false);
      return;
    case 'exhausted':
    case 'config':
    case 'hand_edit':
    case 'merge_conflict':
    case undefined:
      r.counters.same_error = 0;
      delete r.counters.error_signature;
      if (pos.phase !== 'done' && isStepPhase(pos.phase)) {
        const step = r.steps[pos.step];
        if (step !== undefined) step.attempts = 0;
      }
      r.phase_attempts = 0;
      resume(d, pos, false);
      return;
    case 'no_progress':
      r.counters.same_error = 0;
      delete r.counters.error_signature;
      resume(d, pos, true);
      return;
    case 'interruptions':
      r.counters.interruptions = 0;
      resume(d, pos, true);
      return;
    case 'rate_limit':
      delete r.counters.rate_limit_wait_ms;
      resume(d, pos, true);
      return;
    case 'budget':
    case 'deadline':
      resume(d, pos, true);
      return;
    default: {
      const never: never = kind;
      throw new Error(`unknown awaiting kind ${String(never)}`);
    }
  }
}

export function reject(d: Draft, ev: Decide<'reject'>): void {
  assertLegal(d.r, 'FAILED', ev.actor, 'reject');
  note(d, ev, 'rejected', d.r.awaiting?.phase ?? d.r.phase);
  delete d.r.feedback;
  log(d, 'human_review', 'info', `Task ${d.r.id}: ${describe(ev, 'rejected')}`);
  fail(d, describe(ev, 'rejected'), ev.actor, 'reject');
}

/** Retry from a phase (default: where the task stopped), with that phase's attempts fresh. */
export function retry(d: Draft, ev: Decide<'retry'>): void {
  const r = d.r;
  const wf = d.ctx.workflow;
  const asked: PhaseName = ev.from_phase ?? r.awaiting?.phase ?? r.phase ?? 'plan';
  // With pre-planned steps there is no planning to redo: start again from the first step.
  const phase: PhaseName = wf.phases[asked].skipped ? 'implement' : asked;
  assertLegal(r, stateOfPhase(phase), ev.actor, 'retry');
  note(d, ev, 'rejected', phase);
  let step = 0;
  if (phase === 'plan' || phase !== asked) r.steps = initialSteps(r.spec);
  else if (phase === 'plan_review') r.steps = r.steps.map(s => ({ ...s, state: 'PENDING', attempts: 0 }));
  else if (isStepPhase(phase)) {
    // The step retried and every step after it are done again, with fresh attempts.
    step = Math.min(r.step_index ?? 0, Math.max(0, r.steps.length - 1));
    r.steps = r.steps.map((s, i) => (i < step ? s : { ...s, state: 'PENDING', attempts: 0 }));
  } else {
    // code_review or quality_gate: the steps stand; the last one gets its attempts back for rework.
    step = Math.max(0, r.steps.length - 1);
    r.steps = r.steps.map((s, i) => (i === step ? { ...s, attempts: 0 } : s));
  }
  resetCounters(d);
  log(d, 'human_review', 'info', `Task ${r.id}: ${describe(ev, `retry from ${phase}`)}`);
  hop(d, stateOfPhase(phase), ev.actor, describe(ev, `retry from ${phase}`), 'retry');
  r.phase = phase;
  r.step_index = step;
  resume(d, { phase, step }, false);
}

/** Plan again from scratch: PLANNING, with plan rejections and steps reset. */
export function replan(d: Draft, ev: Decide<'replan'>): void {
  const r = d.r;
  assertLegal(r, 'PLANNING', ev.actor, 'replan');
  note(d, ev, 'rejected', 'plan');
  r.steps = initialSteps(r.spec);
  r.counters.plan_rejections = 0;
  resetCounters(d);
  log(d, 'human_review', 'info', `Task ${r.id}: ${describe(ev, 'replan')}`);
  hop(d, 'PLANNING', ev.actor, describe(ev, 'replan'), 'replan');
  r.phase = 'plan';
  delete r.step_index;
  resume(d, { phase: 'plan', step: 0 }, false);
}

function resetCounters(d: Draft): void {
  const counters = d.r.counters;
  counters.same_error = 0;
  counters.interruptions = 0;
  delete counters.error_signature;
  d.r.phase_attempts = 0;
  delete d.r.next_attempt_at;
}
