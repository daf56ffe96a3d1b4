import t from 'tap';
import { currentPhase, nextPhase, transition } from '../../src/machine/transition.js';
import { resolveWorkflow } from '../../src/machine/workflow.js';
import { APPROVED, configWith, deepFreeze, driver, FULL_WORKFLOW, HASH2, PLAN_2, REJECTED, T0 } from './harness.js';

const spec = { title: 'Edge task', goal: 'Do the thing\nwith details' };

t.test('currentPhase and nextPhase say what runs now, with the attempt number and wait', async t => {
  const d = driver(spec);
  t.equal(currentPhase(d.record), undefined, 'a NEW task runs nothing yet');
  t.match(nextPhase(d.record, resolveWorkflow(d.config, d.record.spec)), { phase: 'plan', attempt: 1, step_id: undefined });
  const runOnly = driver({ goal: 'g' }, configWith({ run: ['x'] }));
  t.match(nextPhase(runOnly.record, resolveWorkflow(runOnly.config, runOnly.record.spec)), { phase: 'implement', step_id: 'S1', step_index: 0 });
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  d.run({ result: APPROVED });
  d.run({ reason: 'failed', error: 'flaky' });
  const run = currentPhase(d.record);
  t.match(run, { phase: 'implement', step_id: 'S1', step_index: 0, attempt: 2 });
  t.equal(run?.not_before, Date.parse(d.record.next_attempt_at ?? ''));
  d.run();
  t.match(currentPhase(d.record), { phase: 'step_review', step_id: 'S1', attempt: 1 });
  const wf = resolveWorkflow(d.config, d.record.spec);
  t.match(nextPhase({ ...d.record, state: 'PLAN_APPROVED' }, wf), { phase: 'implement', step_index: 0 });
  t.match(nextPhase({ ...d.record, state: 'PLAN_REJECTED' }, wf), { phase: 'plan' });
  t.equal(nextPhase({ ...d.record, state: 'AWAITING_HUMAN' }, wf), undefined);
  const nothing = driver({ goal: 'g', steps: [{ id: 'A' }] }, configWith({}));
  t.equal(nextPhase(nothing.record, resolveWorkflow(nothing.config, nothing.record.spec)), undefined);
  nothing.send({ type: 'start' });
  t.same(nothing.states(), ['DONE'], 'a workflow with nothing to run finishes at once');
});

t.test('a reviewer may reject by exiting non-zero with outcome rejected; a plan command reporting failure has failed', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  d.run({ result: { outcome: 'failed', reason: 'could not plan' } });
  t.equal(d.record.state, 'PLANNING');
  t.match(d.record.last_error, { message: 'could not plan' });
  t.equal(d.record.phase_attempts, 1);
  d.run({ result: PLAN_2 });
  d.run({ reason: 'failed', exit_code: 1, result: REJECTED('Bad plan') });
  t.equal(d.record.counters.plan_rejections, 1);
  t.equal(d.record.state, 'PLANNING');
  d.run({ result: PLAN_2 });
  d.run({ reason: 'failed', exit_code: 2, error: 'reviewer crashed' });
  t.equal(d.record.state, 'PLAN_REVIEW', 'a reviewer that fails without a verdict is retried');
  t.equal(d.record.counters.plan_rejections, 1);
});

t.test('max_plan_rejections 0 parks at the first rejection; replan then resets the count', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, max_plan_rejections: 0 }));
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  d.run({ result: REJECTED('no') });
  t.match(d.record.awaiting, { kind: 'plan_rejections' });
  d.send({ type: 'replan', actor: 'human' });
  t.equal(d.record.counters.plan_rejections, 0);
  t.same(d.runs(), ['plan']);
});

t.test('a plan review with no plan command reviews the default step; rejection loops to the review', async t => {
  const d = driver(spec, configWith({ plan_review: { command: ['r'] }, run: ['x'] }));
  d.send({ type: 'start' });
  t.same(d.runs(), ['plan_review']);
  t.same(d.states(), ['PLAN_REVIEW']);
  d.run({ result: REJECTED('why') });
  t.same(d.states(), ['PLAN_REVIEW', 'PLAN_REJECTED', 'PLAN_REVIEW']);
  d.run();
  t.same(d.runs(), ['implement:S1']);
});

t.test('rework with nothing to implement cannot help: the task is exhausted at once', async t => {
  const d = driver(spec, configWith({ code_review: { command: ['r'] }, on_exhausted: 'human' }));
  d.send({ type: 'start' });
  t.same(d.runs(), ['code_review']);
  d.run({ result: REJECTED('bad') });
  t.match(d.record.awaiting, { kind: 'exhausted', resume_state: 'IMPLEMENTING', reason: /nothing implements it/ });
  d.send({ type: 'approve', actor: 'cli' });
  t.same(d.runs(), ['code_review'], 'approving walks through the empty implement to the review again');
});

t.test('retry from code review or the quality gate keeps the steps and refreshes the last one', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human' }));
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  for (let i = 0; i < 6; i++) d.run({ result: APPROVED });
  t.equal(d.record.state, 'QUALITY_GATE');
  for (let i = 0; i < 3; i++) d.run({ reason: 'failed', error: 'npm crashed' });
  t.match(d.record.awaiting, { kind: 'exhausted', resume_state: 'QUALITY_GATE', phase: 'quality_gate' });
  d.send({ type: 'retry', actor: 'cli', from_phase: 'code_review' });
  t.same(d.runs(), ['code_review']);
  t.same(d.record.steps.map(s => [s.state, s.attempts]), [['COMPLETED', 1], ['COMPLETED', 0]]);
  t.equal(d.record.phase_attempts, 0);
});

t.test('retry from plan with pre-planned steps starts at the first step', async t => {
  const d = driver({ goal: 'g', steps: [{ id: 'A' }, { id: 'B' }] }, configWith({ run: ['x'] }));
  d.send({ type: 'start' });
  d.run();
  d.run({ reason: 'failed', retryable: false });
  t.equal(d.record.state, 'FAILED');
  d.send({ type: 'retry', actor: 'cli', from_phase: 'plan' });
  t.same(d.runs(), ['implement:A']);
  t.same(d.record.steps.map(s => s.state), ['IMPLEMENTING', 'PENDING']);
});

t.test('spec changes on a NEW or waiting task are recorded and change nothing else', async t => {
  const d = driver(spec);
  d.send({ type: 'spec_changed', spec: { goal: 'v2' }, hash: HASH2, mode: 'restart' });
  t.equal(d.record.state, 'NEW');
  t.equal(d.record.spec.goal, 'v2');
  t.same(d.runs(), []);
});

t.test('a new generation asks its gates again', async t => {
  const d = driver({ goal: 'g' }, configWith({ run: ['x'], human_gate: ['implement'] }));
  d.send({ type: 'start' });
  d.send({ type: 'approve', actor: 'cli' });
  d.run();
  t.equal(d.record.state, 'DONE');
  d.send({ type: 'spec_changed', spec: { goal: 'g2' }, hash: HASH2, mode: 'next_phase' });
  t.equal(d.record.generation, 2);
  t.match(d.record.awaiting, { kind: 'gate', phase: 'implement' });
});

t.test('odd attempt reports: unknown n is logged and ignored, a repeated n is refused, a repeated end is ignored', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  const before = d.record;
  d.end(99);
  t.same(d.record, before);
  t.match(d.effects, [{ type: 'log', category: 'error', message: /Attempt 99 of task RAE-001 is not in its record/ }]);
  const n = d.begin();
  t.throws(
    () => d.send({ type: 'attempt_started', attempt: { n, phase: 'plan', started_at: new Date(T0).toISOString(), artifacts_dir: 'x' } }),
    { code: 'ORCH_INTERNAL' },
  );
  d.end(n, { reason: 'failed', error: 'e', result: { model: 'm1', cost_usd: 0.01 } });
  t.match(d.effects[0], { type: 'log', category: 'llm_call', level: 'error', message: '❌ LLM call [planner] claude_cli/m1 (asked for claude-sonnet-4-5) (task=RAE-001, cost=$0.0100, 1.0s)' });
  const again = transition(deepFreeze(structuredClone(d.record)), { type: 'attempt_finished', n, reason: 'succeeded', retryable: true, exit_code: 0, signal: null }, d.ctx());
  t.same(again.effects, []);
  t.equal(again.record.state, 'PLANNING');
});

t.test('a failure with no message is described by its exit code or signal', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  d.run({ reason: 'failed', exit_code: 3 });
  t.equal(d.record.last_error?.message, 'exit code 3');
  d.run({ reason: 'failed', exit_code: null, signal: 'SIGSEGV' });
  t.equal(d.record.last_error?.message, 'killed by SIGSEGV');
  const stalled = driver(spec);
  stalled.send({ type: 'start' });
  stalled.run({ reason: 'stalled', exit_code: null, signal: 'SIGKILL' });
  t.equal(stalled.record.last_error?.message, 'stalled: no output for too long');
});

t.test('the runner\'s failure signature, when given, is what the no-progress breaker compares', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, plan: { command: ['p'], retry: { max_attempts: 9 } }, no_progress_limit: 2 }));
  d.send({ type: 'start' });
  d.run({ reason: 'failed', error: 'at 10:01 connection reset', signature: 'exit 1: connection reset' });
  d.run({ reason: 'failed', error: 'at 10:02 connection reset', signature: 'exit 1: connection reset' });
  t.match(d.record.awaiting, { kind: 'no_progress' });
  t.equal(d.record.counters.error_signature, 'exit 1: connection reset');
});
