// A reviewer's or the quality gate's verdict: on to the next phase, or the work sent back (the plan
// to planning, a step to implementing) with the reasons as feedback, within the attempts it has.
import type { Attempt, CheckResult, CommandResult } from '../generated/types.js';
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

/** Most characters of the checks' output handed to the next implement attempt (and the waiting reason). */
export const GATE_FEEDBACK_CHARS = 12_000;

export function gateChecked(d: Draft, attempt: Attempt, pos: Position, result: CommandResult | undefined): void {
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
  const unrunnable = failedChecks.filter(c => c.runnable === false);
  if (unrunnable.length > 0) {
    // A check that cannot run (no such command, no such npm script) fails the same way whatever the
    // agent does: sending the work back would spend agent runs for nothing. A person fixes the config.
    const what = unrunnable.map(c => `${c.name}: ${firstLine(c.message ?? 'could not run')}`).join('; ');
    park(d, 'config', `Quality gate check could not run (${what}): fix the check in the config or the project, then approve`, d.r.state, 'quality_gate');
    return;
  }
  if (d.ctx.workflow.on_conflict === 'human' && failedChecks.some(c => isMergeCheck(c.name))) {
    const what = failedChecks.filter(c => isMergeCheck(c.name)).map(c => firstLine(c.message ?? c.name)).join('; ');
    park(d, 'merge_conflict', `${what}: resolve the conflict markers in the task's worktree${d.r.worktree === undefined ? '' : ` (${d.r.worktree.path})`}, commit there, then approve`, d.r.state, 'quality_gate');
    return;
  }
  const tails = (result?.checks ?? [])
    .filter(c => !c.passed && c.output_tail !== undefined && c.output_tail !== '')
    .map(c => `--- ${c.name} output (last lines) ---\n${c.output_tail ?? ''}`);
  const head = lines.length > 0 ? `Quality gate failed:\n${lines.join('\n')}` : 'Quality gate failed';
  const why = [head, ...tails].join('\n\n').slice(0, GATE_FEEDBACK_CHARS);
  rework(d, d.r.steps.length - 1, why);
}

const MERGE_CHECK = 'merge into ';

/** The name of the quality gate's check that stands for the merge into `target` (merge branch or queue). */
export function mergeCheckName(target: string): string {
  return `${MERGE_CHECK}${target}`;
}

function isMergeCheck(name: string): boolean {
  return name.startsWith(MERGE_CHECK);
}

/** A reviewer or the quality gate sent the work back: implement step `index` again, within its attempts. */
function rework(d: Draft, index: number, why: string): void {
  const step = d.r.steps[index];
  const implement = d.ctx.workflow.phases.implement;
  const max = implement.retry.max_attempts;
  const pos: Position = { phase: 'implement', step: Math.max(0, index) };
  if (step === undefined || !implement.runs || step.attempts >= max) {
    const spent = step === undefined || !implement.runs ? 'nothing implements it' : `${step.attempts}/${max} attempts spent`;
    // The whole of it: a person deciding what to do about a failing gate needs its output, not one line.
    exhausted(d, `Sent back (${spent}): ${why}`, pos);
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
