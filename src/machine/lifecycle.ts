// The orchestrator's own events besides attempt ends: start, attempt_started, deadline_passed, and the
// watcher's spec_changed and spec_deleted (PRODUCT.md §3, §5, §6).
import { OrchError } from '../errors.js';
import type { TaskRecord, TaskSpec } from '../generated/types.js';
import type { TaskEvent } from './events.js';
import { advanceFrom, currentStep, enterPosition, fail, hop, iso, log, logStart, park, positionOf, startPhase, type Draft } from './flow.js';
import { initialSteps, openAttempt } from './record.js';
import { isStepPhase, isTerminal, phaseOfState, stateOfPhase } from './states.js';
import { firstLine } from './messages.js';
import { assertLegal } from './transitions.js';

/**
 * NEW: the task begins (steps from the spec or one default step, deadline set, first phase or gate).
 * A task resting between phases (PLAN_APPROVED, PLAN_REJECTED: only a hand-made record rests there)
 * goes on from where it is. Any other state refuses.
 */
export function start(d: Draft): void {
  if (d.r.state === 'PLAN_APPROVED') {
    advanceFrom(d, { phase: 'plan_review', step: 0 });
    return;
  }
  if (d.r.state === 'PLAN_REJECTED') {
    enterPosition(d, { phase: 'plan', step: 0 }, false);
    return;
  }
  if (d.r.state !== 'NEW') {
    throw new OrchError('ORCH_ILLEGAL_TRANSITION', `Task ${d.r.id} is ${d.r.state}: only a NEW task can start`, {
      details: { task: d.r.id, from: d.r.state, actor: 'orch', action: 'start' },
    });
  }
  d.r.steps = initialSteps(d.r.spec);
  d.r.phase_attempts = 0;
  const deadline = d.ctx.workflow.deadline_s;
  if (deadline !== undefined) d.r.deadline_at = iso(d.ctx.now + deadline * 1000);
  logStart(d);
  enterPosition(d, { phase: 'plan', step: 0 }, true);
}

export function attemptStarted(d: Draft, ev: Extract<TaskEvent, { type: 'attempt_started' }>): void {
  const attempt = ev.attempt;
  if (d.r.attempts.some(a => a.n === attempt.n)) {
    throw new OrchError('ORCH_INTERNAL', `Task ${d.r.id} already has an attempt ${attempt.n}`, {
      details: { task: d.r.id, n: attempt.n },
    });
  }
  d.r.attempts.push({ ...attempt, generation: attempt.generation ?? d.r.generation });
  delete d.r.next_attempt_at;
  // Where a remote executor runs it: the run log tells which host to look at (local attempts say nothing).
  if (attempt.remote !== undefined) {
    const group = attempt.remote.pgid === undefined ? '' : `, process group ${attempt.remote.pgid}`;
    log(d, 'task', 'info', `Attempt ${attempt.n} of task ${d.r.id} (${attempt.phase}) runs on ${attempt.remote.host} (${attempt.remote.executor}${group})`);
  }
  // A command started for a phase the task has left (a cancel or decision got in first) is stopped at once.
  const wanted =
    phaseOfState(d.r.state) !== undefined &&
    d.r.phase === attempt.phase &&
    stateOfPhase(attempt.phase) === d.r.state &&
    (!isStepPhase(attempt.phase) || currentStep(d.r)?.id === attempt.step_id);
  if (!wanted) {
    d.effects.push({ type: 'stop_command', reason: `task ${d.r.id} is ${d.r.state}: attempt ${attempt.n} (${attempt.phase}) is not wanted` });
  }
}

export function deadlinePassed(d: Draft): void {
  const r = d.r;
  // A deadline acts on work in progress: a task waiting for a person, finished, or not begun is left alone.
  if (phaseOfState(r.state) === undefined || r.deadline_at === undefined) return;
  if (d.ctx.now < Date.parse(r.deadline_at)) return; // an early timer: not yet
  const reason = `Deadline passed (${r.deadline_at})`;
  stopRunning(d, reason);
  r.last_error = { at: iso(d.ctx.now), message: reason, ...(r.phase === undefined ? {} : { phase: r.phase }) };
  if (d.ctx.workflow.on_exhausted === 'human') {
    park(d, 'deadline', reason, r.state, r.phase);
  } else {
    fail(d, reason);
  }
}

/**
 * hand_edit_found: a record edited beyond its state while no orchestrator ran. What orch wrote cannot be
 * told, so nothing runs on the edit until a person has looked (fail closed): a task in the middle of
 * its work waits for one (approve: go on from the record as edited), one already waiting says why now.
 * A NEW task has run nothing in this generation (its start rebuilds steps from the spec) and a finished
 * one runs nothing more: both are left as they are; the runtime keeps the edit aside and says so.
 */
export function handEditFound(d: Draft, reason: string): void {
  const r = d.r;
  if (r.state === 'NEW' || isTerminal(r.state)) return;
  if (r.state === 'AWAITING_HUMAN') {
    r.awaiting = { ...r.awaiting, since: iso(d.ctx.now), kind: 'hand_edit', reason };
    log(d, 'human_review', 'warning', `⏸️  Task ${r.id} awaiting human review (hand_edit): ${firstLine(reason)}`);
    return;
  }
  // A plan rejected by hand is planned again on approval; any other state is gone on from as it is.
  park(d, 'hand_edit', reason, r.state === 'PLAN_REJECTED' ? 'PLANNING' : r.state, r.phase);
}

/** cancel (a person) and spec_deleted (orch): CANCELLED, the running command stopped, the record kept. */
export function cancel(d: Draft, actor: 'orch' | 'cli' | 'human', why: string, action: string): void {
  if (action === 'spec_deleted' && isTerminal(d.r.state)) return; // finished tasks keep their end state
  assertLegal(d.r, 'CANCELLED', actor, action);
  stopRunning(d, why);
  hop(d, 'CANCELLED', actor, why, action);
  delete d.r.next_attempt_at;
  log(d, 'task', 'warning', `Task ${d.r.id} cancelled: ${why}`);
}

/**
 * Asks the runtime to stop the task's command. Also when no attempt is open yet: the runtime may be
 * between choosing the command and recording its start, and that command must not run the old spec.
 */
function stopRunning(d: Draft, reason: string): void {
  if (openAttempt(d.r) !== undefined || phaseOfState(d.r.state) !== undefined) d.effects.push({ type: 'stop_command', reason });
}

export function specChanged(d: Draft, ev: Extract<TaskEvent, { type: 'spec_changed' }>): void {
  const r = d.r;
  if (ev.hash === r.spec_hash) return;
  if (isTerminal(r.state)) {
    newGeneration(d, ev);
    return;
  }
  r.spec = ev.spec;
  r.spec_hash = ev.hash;
  const running = phaseOfState(r.state) !== undefined;
  if (!running || ev.mode === 'next_phase') {
    log(d, 'watcher', 'info', `Spec of task ${r.id} changed: ${running ? 'taken up at its next phase' : `the task stays ${r.state}`}`);
    return;
  }
  const pos = positionOf(r);
  stopRunning(d, 'spec changed: restarting the phase');
  // The running attempt is closed now: if it exits on its own before the stop lands, its end must
  // not complete the restarted phase (it worked on the old spec).
  const superseded = openAttempt(r);
  if (superseded !== undefined) {
    superseded.ended_at = iso(d.ctx.now);
    superseded.reason = 'cancelled';
    superseded.error = 'superseded: the spec changed while it ran';
  }
  const step = currentStep(r);
  if (pos.phase === 'implement' && step !== undefined) step.attempts = 0;
  log(d, 'watcher', 'info', `Spec of task ${r.id} changed: restarting ${pos.phase}`);
  startPhase(d, pos);
}

/**
 * A task that just went DONE although its last command ran an older spec (the spec changed during its
 * last phase, or with only commandless phases left after it, under on_spec_change next_phase): no
 * command ever ran the spec the record holds, so it runs again as a new generation, as an edit just
 * after DONE would. A task is DONE only for the spec its last command saw.
 */
export function runPendingSpec(d: Draft): void {
  const r = d.r;
  const last = r.attempts.filter(a => (a.generation ?? 1) === r.generation).at(-1);
  if (last?.spec_hash === undefined || last.spec_hash === r.spec_hash) return;
  newGeneration(d, { spec: r.spec, hash: r.spec_hash }, ' during its last phase');
}

/** A finished task whose spec changed runs again: generation + 1, from NEW, history and attempts kept. */
function newGeneration(d: Draft, ev: { readonly spec: TaskSpec; readonly hash: string }, when = ''): void {
  const r: TaskRecord = d.r;
  const from = r.state;
  r.generation += 1;
  hop(d, 'NEW', 'orch', `spec changed${when}: generation ${r.generation}`, 'spec_changed');
  r.spec = ev.spec;
  r.spec_hash = ev.hash;
  r.steps = [];
  r.phase_attempts = 0;
  r.counters = { interruptions: 0, plan_rejections: 0, same_error: 0 };
  r.cost = { usd: 0, tokens: 0, by_role: {} };
  for (const key of ['phase', 'step_index', 'awaiting', 'last_error', 'last_review', 'feedback', 'next_attempt_at', 'deadline_at'] as const) {
    delete r[key];
  }
  log(d, 'watcher', 'info', `Spec of task ${r.id} changed${when}: it was ${from}, it runs again as generation ${r.generation}`);
  start(d);
}
