// A reviewer's or the quality gate's verdict: on to the next phase, or the work sent back (the plan
// to planning, a step to implementing) with the reasons as feedback, within the attempts it has.
import type { Attempt, CheckResult } from '../generated/types.js';
import { exhausted, type AttemptFinished } from './failures.js';
import { advanceFrom, enterPosition, hop, iso, log, park, startPhase, type Draft, type Position } from './flow.js';
import { firstLine, retryMessage, seconds } from './messages.js';

export function reviewed(d: Draft, phase: 'plan_review' | 'step_review' | 'code_review', ev: AttemptFinished, pos: Position): void {
  const outcome = ev.result?.outcome;
  const rejected = outcome === 'rejected' || outcome === 'failed';
  const notes = ev.result?.reason;
  d.r.last_review = {
    at: iso(d.ctx.now), by: 'orch', phase, outcome: rejected ? 'rejected' : 'approved', ...(notes === undefined ? {} : { notes }),
  };
  if (!rejected) {
    advanceFrom(d, pos);
    return;
  }
  const why = notes ?? `rejected by ${phase}`;
  log(d, 'human_review', 'warning', `${phase} rejected task ${d.r.id}: ${firstLine(why)}`);
  if (phase === 'plan_review') {
    d.r.counters.plan_rejections += 1;
    hop(d, 'PLAN_REJECTED', 'orch', `plan rejected: ${firstLine(why)}`);
    if (d.r.counters.plan_rejections > d.ctx.workflow.max_plan_rejections) {
      park(d, 'plan_rejections', `Plan rejected ${d.r.counters.plan_rejections} times: ${firstLine(why)}`, 'PLAN_APPROVED', 'plan_review');
      return;
    }
    d.r.feedback = why;
    enterPosition(d, { phase: 'plan', step: 0 }, false);
    return;
  }
  rework(d, phase === 'step_review' ? pos.step : d.r.steps.length - 1, why);
}

export function gateChecked(d: Draft, attempt: Attempt, pos: Position): void {
  const checks: CheckResult[] = attempt.checks ?? [];
  const failedChecks = checks.filter(c => !c.passed);
  const passed = failedChecks.length === 0 && attempt.outcome !== 'failed' && attempt.outcome !== 'rejected';
  const took = seconds(d.ctx.now - Date.parse(attempt.started_at));
  if (passed) {
    log(d, 'quality_gate', 'success', `Quality Gate ✅ PASSED (task=${d.r.id}, ${took})`, checks.map(c => `✅ ${c.name} passed`));
    advanceFrom(d, pos);
    return;
  }
  const lines = failedChecks.map(c => `❌ ${c.name} failed${c.message === undefined ? '' : `: ${firstLine(c.message)}`}`);
  log(d, 'quality_gate', 'error', `Quality Gate ❌ FAILED (task=${d.r.id}, ${took})`, failedChecks.map(c => `❌ ${c.name} failed`));
  const why = lines.length > 0 ? `Quality gate failed:\n${lines.join('\n')}` : 'Quality gate failed';
  rework(d, d.r.steps.length - 1, why);
}

/** A reviewer or the quality gate sent the work back: implement step `index` again, within its attempts. */
function rework(d: Draft, index: number, why: string): void {
  const step = d.r.steps[index];
  const implement = d.ctx.workflow.phases.implement;
  const max = implement.retry.max_attempts;
  const pos: Position = { phase: 'implement', step: Math.max(0, index) };
  if (step === undefined || !implement.runs || step.attempts >= max) {
    const spent = step === undefined || !implement.runs ? 'nothing implements it' : `${step.attempts}/${max} attempts spent`;
    exhausted(d, `Sent back (${spent}): ${firstLine(why)}`, pos);
    return;
  }
  d.r.feedback = why;
  log(d, 'retry', 'warning', retryMessage(step.attempts + 1, max, 'implement', step.id, d.r.id, lastLine(why)));
  startPhase(d, pos);
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter(line => line.trim() !== '');
  return lines.length > 1 ? lines.slice(1).join('; ') : (lines[0] ?? text);
}
