// Attempts that did not succeed: a failure (retry after a backoff, or exhausted, or not retryable),
// a rate limit (parked, no attempt spent), an interruption (run again, up to a cap); and the budget
// and no-progress breakers that park a task for a human (PRODUCT.md §5, §12).
import type { Attempt, PhaseName } from '../generated/types.js';
import { RATE_LIMIT_FALLBACK_MS, retryDelayMs } from '../retry/backoff.js';
import type { TaskEvent } from './events.js';
import { currentStep, fail, iso, log, park, positionOf, runPhaseEffect, type Draft, type Position } from './flow.js';
import { describeEnd, firstLine, money, retryMessage } from './messages.js';
import { isStepPhase, phaseOfState, stateOfPhase } from './states.js';

export type AttemptFinished = Extract<TaskEvent, { type: 'attempt_finished' }>;

export function errorText(ev: AttemptFinished): string {
  return ev.error ?? ev.result?.reason ?? describeEnd(ev.reason, ev.exit_code, ev.signal);
}

/** Spends one attempt of the current phase (implement: of the current step). */
export function spend(d: Draft, phase: PhaseName): number {
  const step = currentStep(d.r);
  if (phase === 'implement' && step !== undefined) {
    step.attempts += 1;
    d.r.phase_attempts = step.attempts;
  } else {
    d.r.phase_attempts = (d.r.phase_attempts ?? 0) + 1;
  }
  return d.r.phase_attempts;
}

export function exhausted(d: Draft, reason: string, pos: Position): void {
  if (d.ctx.workflow.on_exhausted === 'human' && pos.phase !== 'done') {
    d.r.phase = pos.phase;
    if (isStepPhase(pos.phase)) d.r.step_index = pos.step;
    park(d, 'exhausted', reason, stateOfPhase(pos.phase), pos.phase);
    return;
  }
  fail(d, reason);
}

export function failed(d: Draft, attempt: Attempt, ev: AttemptFinished, message: string): void {
  const phase = attempt.phase;
  const spent = spend(d, phase);
  const signature = ev.signature ?? `${ev.exit_code ?? ev.signal ?? ev.reason}:${firstLine(message)}`;
  const counters = d.r.counters;
  counters.same_error = counters.error_signature === signature ? counters.same_error + 1 : 1;
  counters.error_signature = signature;
  d.r.last_error = { at: iso(d.ctx.now), message, phase, reason: ev.reason };
  const wf = d.ctx.workflow;
  const policy = wf.phases[phase].retry;
  const stepId = currentStep(d.r)?.id;
  const stepRef = isStepPhase(phase) ? stepId : undefined;
  if (ev.config_problem === true) {
    // Nothing the agent does can fix a refused flag or a check that cannot run: a person must.
    log(d, 'error', 'error', `Config problem in ${phase} (task=${d.r.id}): ${firstLine(message)}`);
    park(d, 'config', `Config problem in ${phase}: ${firstLine(message)}`, d.r.state, phase);
  } else if (!ev.retryable) {
    log(d, 'error', 'error', `Non-retryable failure in ${phase} (task=${d.r.id}): ${firstLine(message)}`);
    fail(d, `${phase} failed (not retryable): ${firstLine(message)}`);
  } else if (spent >= policy.max_attempts) {
    exhausted(d, `${phase} failed ${spent}/${policy.max_attempts} attempts: ${firstLine(message)}`, positionOf(d.r));
  } else if (counters.same_error >= wf.no_progress_limit) {
    park(d, 'no_progress', `The same error ${counters.same_error} times in a row: ${firstLine(message)}`, d.r.state, phase);
  } else {
    const notBefore = d.ctx.now + retryDelayMs(policy, spent, d.ctx.random);
    d.r.next_attempt_at = iso(notBefore);
    log(d, 'retry', 'warning', retryMessage(spent + 1, policy.max_attempts, phase, stepRef, d.r.id, message));
    d.effects.push(runPhaseEffect(phase, stepRef, notBefore));
  }
}

/**
 * Parks the task until the reset without spending an attempt, within max_rate_limit_wait_s in all: a
 * limit that keeps coming back (a daily quota) ends with a person, not a loop that never ends.
 */
export function rateLimited(d: Draft, attempt: Attempt, ev: AttemptFinished): void {
  const until = Math.max(d.ctx.now, ev.rate_limited_until ?? d.ctx.now + RATE_LIMIT_FALLBACK_MS);
  const stepId = isStepPhase(attempt.phase) ? currentStep(d.r)?.id : undefined;
  d.r.last_error = { at: iso(d.ctx.now), message: errorText(ev), phase: attempt.phase, reason: 'rate_limited' };
  const waited = d.r.counters.rate_limit_wait_ms ?? 0;
  const capMs = d.ctx.workflow.max_rate_limit_wait_s * 1000;
  if (waited + (until - d.ctx.now) > capMs) {
    const total = Math.round((waited + until - d.ctx.now) / 1000);
    park(d, 'rate_limit', `Rate limited in ${attempt.phase}: waiting until ${iso(until)} would make ${total}s parked, over max_rate_limit_wait_s ${d.ctx.workflow.max_rate_limit_wait_s}s (${firstLine(errorText(ev))})`, d.r.state, attempt.phase);
    return;
  }
  d.r.counters.rate_limit_wait_ms = waited + (until - d.ctx.now);
  d.r.next_attempt_at = iso(until);
  log(d, 'retry', 'warning', `⏸️  Rate limited in ${attempt.phase} (task=${d.r.id}): parked until ${iso(until)}, no attempt spent`);
  d.effects.push(runPhaseEffect(attempt.phase, stepId, until));
}

export function interrupted(d: Draft, attempt: Attempt): void {
  const counters = d.r.counters;
  counters.interruptions += 1;
  const max = d.ctx.maxInterruptions;
  if (counters.interruptions > max) {
    park(d, 'interruptions', `Interrupted ${counters.interruptions} times (limit ${max}): the run keeps dying`, d.r.state, attempt.phase);
    return;
  }
  const stepId = isStepPhase(attempt.phase) ? currentStep(d.r)?.id : undefined;
  log(d, 'retry', 'warning', `Attempt ${attempt.n} of task ${d.r.id} (${attempt.phase}) was interrupted (${counters.interruptions}/${max}): running it again`);
  d.effects.push(runPhaseEffect(attempt.phase, stepId, undefined));
}

/** Crossing max_cost_usd or max_tokens parks a running task for a human (once per crossing). */
export function checkBudget(d: Draft, before: { usd: number; tokens: number }): void {
  if (phaseOfState(d.r.state) === undefined) return;
  const wf = d.ctx.workflow;
  const { usd, tokens } = d.r.cost;
  let reason: string | undefined;
  if (wf.max_cost_usd !== undefined && before.usd <= wf.max_cost_usd && usd > wf.max_cost_usd) {
    reason = `Budget exceeded: cost ${money(usd)} > max_cost_usd ${money(wf.max_cost_usd)}`;
  } else if (wf.max_tokens !== undefined && before.tokens <= wf.max_tokens && tokens > wf.max_tokens) {
    reason = `Budget exceeded: ${tokens} tokens > max_tokens ${wf.max_tokens}`;
  }
  if (reason !== undefined) park(d, 'budget', reason, d.r.state, d.r.phase);
}
