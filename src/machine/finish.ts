// attempt_finished: close the attempt, count its cost, then decide what the task does next — go on,
// retry after a backoff, be sent back by a reviewer, park for a human, or fail (PRODUCT.md §3, §5, §12).
import type { Attempt, TaskRecord, Tokens } from '../generated/types.js';
import { checkBudget, errorText, failed, interrupted, rateLimited, spend, type AttemptFinished } from './failures.js';
import { advanceFrom, currentStep, iso, log, positionOf, type Draft } from './flow.js';
import { money, seconds } from './messages.js';
import { isStepPhase, phaseOfState, roleOfPhase, stateOfPhase } from './states.js';
import { gateChecked, reviewed } from './verdicts.js';

export type { AttemptFinished } from './failures.js';

export function finishAttempt(d: Draft, ev: AttemptFinished): void {
  const attempt = d.r.attempts.find(a => a.n === ev.n);
  if (attempt === undefined) {
    log(d, 'error', 'warning', `Attempt ${ev.n} of task ${d.r.id} is not in its record: its end is ignored`);
    return;
  }
  if (attempt.ended_at !== undefined) return; // already closed (by --resume, or a repeated report)
  const before = { usd: d.r.cost.usd, tokens: d.r.cost.tokens };
  closeAttempt(d, attempt, ev);
  if (!isCurrent(d.r, attempt)) return; // its task has moved on: the record of it is all that is left to do
  const reason = verdictReason(attempt, ev);
  switch (reason) {
    case 'succeeded':
      succeeded(d, attempt, ev);
      break;
    case 'failed':
    case 'timed_out':
    case 'stalled':
      failed(d, attempt, ev, errorText(ev));
      break;
    case 'rate_limited':
      rateLimited(d, attempt, ev);
      break;
    case 'interrupted':
      interrupted(d, attempt);
      break;
    case 'cancelled':
      break; // stopped on purpose (cancel, restart, shutdown): whoever stopped it decides what follows
    default: {
      const never: never = reason;
      throw new Error(`unknown attempt reason ${String(never)}`);
    }
  }
  checkBudget(d, before);
}

/**
 * A reviewer that exits non-zero with outcome "rejected", or a quality gate that exits non-zero with
 * a failed check, has given a verdict, not failed: the verdict is handled as for exit 0.
 */
function verdictReason(attempt: Attempt, ev: AttemptFinished): AttemptFinished['reason'] {
  if (ev.reason !== 'failed') return ev.reason;
  const result = ev.result;
  if (attempt.phase === 'quality_gate' && (result?.checks ?? []).some(check => !check.passed)) return 'succeeded';
  const review = attempt.phase === 'plan_review' || attempt.phase === 'step_review' || attempt.phase === 'code_review';
  return review && result?.outcome === 'rejected' ? 'succeeded' : 'failed';
}

function closeAttempt(d: Draft, attempt: Attempt, ev: AttemptFinished): void {
  const result = ev.result;
  const phase = d.ctx.workflow.phases[attempt.phase];
  attempt.ended_at = iso(d.ctx.now);
  attempt.reason = ev.reason;
  attempt.retryable = ev.retryable;
  attempt.exit_code = ev.exit_code;
  attempt.signal = ev.signal;
  if (ev.adopted_by !== undefined) attempt.adopted_by = ev.adopted_by;
  if (result?.outcome !== undefined) attempt.outcome = result.outcome;
  if (ev.reason !== 'succeeded') attempt.error = errorText(ev);
  // The model the client reports is what the API served; the one asked for is kept beside it when they differ.
  const requested = attempt.model ?? phase.model;
  const model = result?.model ?? requested;
  const provider = result?.provider ?? attempt.provider ?? phase.provider;
  if (model !== undefined) attempt.model = model;
  if (requested !== undefined && model !== requested) attempt.model_requested = requested;
  if (provider !== undefined) attempt.provider = provider;
  const usd = result?.cost_usd ?? 0;
  const tokens = tokenCount(result?.tokens);
  if (result?.cost_usd !== undefined) attempt.cost_usd = usd;
  if (result?.tokens !== undefined) attempt.tokens = tokens;
  if (typeof result?.tokens === 'object') {
    if (result.tokens.input !== undefined) attempt.input_tokens = result.tokens.input;
    if (result.tokens.output !== undefined) attempt.output_tokens = result.tokens.output;
  }
  Object.assign(attempt, ev.agent);
  if (ev.checkpoint !== undefined) {
    attempt.checkpoint = ev.checkpoint;
    const step = attempt.step_id === undefined ? '' : `, step ${attempt.step_id}`;
    log(d, 'task', 'info', `Checkpoint ${ev.checkpoint.slice(0, 12)} on ${d.r.worktree?.branch ?? 'the task branch'} (task=${d.r.id}${step}, attempt ${attempt.n})`);
  }
  if (ev.merge !== undefined) {
    attempt.merge = ev.merge;
    log(d, 'task', 'success', `Merged task ${d.r.id} into ${ev.merge.target}: ${ev.merge.commit.slice(0, 12)} (onto ${ev.merge.onto.slice(0, 12)})`);
  }
  if (result?.checks !== undefined) {
    attempt.checks = result.checks.map(c => ({
      name: c.name, passed: c.passed, ...(c.message === undefined ? {} : { message: c.message }), ...(c.runnable === undefined ? {} : { runnable: c.runnable }),
    }));
  }
  const cost = d.r.cost;
  cost.usd += usd;
  cost.tokens += tokens;
  const role = cost.by_role[attempt.phase] ?? { usd: 0, tokens: 0, calls: 0 };
  cost.by_role[attempt.phase] = {
    ...role,
    ...(model === undefined ? {} : { model }),
    ...(provider === undefined ? {} : { provider }),
    usd: role.usd + usd,
    tokens: role.tokens + tokens,
    calls: role.calls + 1,
  };
  if (model !== undefined && ['succeeded', 'failed', 'timed_out', 'stalled'].includes(ev.reason)) {
    const ok = ev.reason === 'succeeded';
    const took = seconds(d.ctx.now - Date.parse(attempt.started_at));
    const served = provider === undefined ? model : `${provider}/${model}`;
    const label = attempt.model_requested === undefined ? served : `${served} (asked for ${attempt.model_requested})`;
    log(d, 'llm_call', ok ? 'info' : 'error',
      `${ok ? '✅' : '❌'} LLM call [${roleOfPhase(attempt.phase)}] ${label} (task=${d.r.id}, cost=${money(usd, 4)}, ${took})`);
  }
}

/** Tokens as one integer, from a total or an input/output split. */
export function tokenCount(tokens: Tokens | undefined): number {
  if (tokens === undefined) return 0;
  if (typeof tokens === 'number') return Math.max(0, Math.round(tokens));
  return Math.max(0, Math.round(tokens.total ?? (tokens.input ?? 0) + (tokens.output ?? 0)));
}

/** An attempt decides the task's next move only if it is the task's latest run of its current phase. */
function isCurrent(r: TaskRecord, attempt: Attempt): boolean {
  const phase = phaseOfState(r.state);
  if (phase === undefined || r.phase !== attempt.phase || stateOfPhase(attempt.phase) !== r.state) return false;
  if ((attempt.generation ?? r.generation) !== r.generation) return false;
  if (isStepPhase(attempt.phase) && currentStep(r)?.id !== attempt.step_id) return false;
  return r.attempts.every(other => other.n <= attempt.n);
}
function succeeded(d: Draft, attempt: Attempt, ev: AttemptFinished): void {
  const phase = attempt.phase;
  const result = ev.result ?? {};
  const pos = positionOf(d.r);
  if ((phase === 'plan' || phase === 'implement') && (result.outcome === 'failed' || result.outcome === 'rejected')) {
    failed(d, attempt, ev, result.reason ?? `the ${phase} command reported ${result.outcome}`);
    return;
  }
  spend(d, phase);
  d.r.counters.same_error = 0;
  delete d.r.counters.error_signature;
  switch (phase) {
    case 'plan':
      if (result.plan !== undefined && result.plan.length > 0) {
        d.r.steps = result.plan.map(p => ({
          id: p.id,
          ...(p.title === undefined ? {} : { title: p.title }),
          ...(p.goal === undefined ? {} : { goal: p.goal }),
          state: 'PENDING' as const,
          attempts: 0,
        }));
      }
      delete d.r.feedback;
      log(d, 'task', 'info', `Plan ready for task ${d.r.id}: ${d.r.steps.length} step${d.r.steps.length === 1 ? '' : 's'}`);
      advanceFrom(d, pos);
      return;
    case 'implement':
      delete d.r.feedback;
      advanceFrom(d, pos);
      return;
    case 'plan_review':
    case 'step_review':
    case 'code_review':
      reviewed(d, phase, ev, pos);
      return;
    case 'quality_gate':
      gateChecked(d, attempt, pos, ev.result);
      return;
    default: {
      const never: never = phase;
      throw new Error(`unknown phase ${String(never)}`);
    }
  }
}
