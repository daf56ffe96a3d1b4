import t from 'tap';
import type { TaskRecord } from '../../src/generated/types.js';
import { transition } from '../../src/machine/transition.js';
import {
  APPROVED,
  CHECKS_OK,
  configWith,
  deepFreeze,
  driver,
  FULL_WORKFLOW,
  HASH2,
  PLAN_2,
  REJECTED,
  T0,
  type Driver,
} from './harness.js';

const spec = { title: 'Implement search strategies', goal: 'Implement search strategies', risk: 'high' as const };

/** Drives a full-workflow task to the given phase run (the plan approved, S1 and S2 planned). */
function toImplementing(d: Driver): void {
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  d.run({ result: APPROVED });
}

/** The log lines of the last event (of one category), each followed by its detail lines. */
function logs(d: Driver, category?: string): string[] {
  return d.effects.flatMap(e => (e.type === 'log' && (category === undefined || e.category === category) ? [e.message, ...(e.details ?? [])] : []));
}

function messages(d: Driver, category: string): string[] {
  return d.effects.flatMap(e => (e.type === 'log' && e.category === category ? [e.message] : []));
}

t.test('a task goes through every phase of the full workflow to DONE, each move in history', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  t.same(d.runs(), ['plan']);
  t.match(logs(d), ['Task RAE-001 started: Implement search strategies', 'Routing [planner] → claude-opus-4-1: High-risk task needs the best reasoning (task=RAE-001)']);
  d.run({ result: { ...PLAN_2, model: 'claude-sonnet-4-5', provider: 'claude_api', cost_usd: 0.0045, tokens: { input: 100, output: 20 } }, took: 12_300 });
  t.same(logs(d, 'llm_call'), ['✅ LLM call [planner] claude_api/claude-sonnet-4-5 (asked for claude-opus-4-1) (task=RAE-001, cost=$0.0045, 12.3s)'],
    'the model the client reported, beside the routed one it was asked for');
  t.equal(d.record.attempts.at(-1)?.model_requested, 'claude-opus-4-1');
  t.same(d.record.steps.map(s => s.id), ['S1', 'S2']);
  t.same(d.runs(), ['plan_review']);
  d.run({ result: APPROVED });
  t.same(d.runs(), ['implement:S1']);
  for (const expected of ['step_review:S1', 'implement:S2', 'step_review:S2', 'code_review', 'quality_gate']) {
    d.run({ result: APPROVED });
    t.same(d.runs(), [expected]);
  }
  d.run({ result: CHECKS_OK, took: 45_200 });
  t.equal(d.record.state, 'DONE');
  t.same(d.runs(), []);
  t.same(logs(d, 'quality_gate'), ['Quality Gate ✅ PASSED (task=RAE-001, 45.2s)', '✅ test passed', '✅ lint passed']);
  t.match(messages(d, 'task').at(-1), /^✅ Task RAE-001 completed with status: done \(duration=\d+\.\ds, cost=\$0\.00\)$/);
  t.same(d.states(), ['PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'IMPLEMENTING', 'CODE_REVIEW', 'QUALITY_GATE', 'DONE']);
  t.same(d.record.steps.map(s => [s.id, s.state, s.attempts]), [['S1', 'COMPLETED', 1], ['S2', 'COMPLETED', 1]]);
  t.equal(d.record.cost.tokens, 120);
  t.same(d.record.cost.by_role.plan, { usd: 0.0045, tokens: 120, calls: 1, model: 'claude-sonnet-4-5', provider: 'claude_api' });
  t.ok(d.record.history.every(h => h.actor === 'orch' && h.generation === 1));
});

t.test('a run-only workflow runs the task as one step S1 and finishes', async t => {
  const d = driver({ goal: 'npm test passes' }, configWith({ run: ['npm', 'test'] }));
  d.send({ type: 'start' });
  t.same(d.runs(), ['implement:S1']);
  t.same(d.record.steps, [{ id: 'S1', goal: 'npm test passes', state: 'IMPLEMENTING', attempts: 0 }]);
  d.run();
  t.same(d.states(), ['IMPLEMENTING', 'DONE']);
  t.equal(d.record.steps[0]?.state, 'COMPLETED');
});

t.test('pre-planned steps skip plan and plan review', async t => {
  const d = driver({ goal: 'g', steps: [{ id: 'A' }, { id: 'B', goal: 'second' }] });
  d.send({ type: 'start' });
  t.same(d.runs(), ['implement:A']);
  t.same(d.states(), ['IMPLEMENTING']);
});

t.test('the plan rejected twice then approved: replanned with the feedback, then on to the steps', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  d.run({ result: REJECTED('Too vague') });
  t.same(d.runs(), ['plan']);
  t.equal(d.record.feedback, 'Too vague');
  t.equal(d.record.counters.plan_rejections, 1);
  t.equal(d.record.last_review?.outcome, 'rejected');
  d.run({ result: PLAN_2 });
  d.run({ result: REJECTED('Still vague') });
  t.equal(d.record.counters.plan_rejections, 2);
  t.equal(d.record.state, 'PLANNING');
  d.run({ result: PLAN_2 });
  t.equal(d.record.feedback, undefined, 'feedback is cleared once the phase it was for succeeds');
  d.run({ result: APPROVED });
  t.same(d.runs(), ['implement:S1']);
  t.same(d.states(), [
    'PLANNING', 'PLAN_REVIEW', 'PLAN_REJECTED', 'PLANNING', 'PLAN_REVIEW', 'PLAN_REJECTED', 'PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'IMPLEMENTING',
  ]);
});

t.test('a third plan rejection (over max_plan_rejections 2) waits for a human; approve takes the plan', async t => {
  const d = driver(spec);
  d.send({ type: 'start' });
  for (let i = 0; i < 3; i++) {
    d.run({ result: PLAN_2 });
    d.run({ result: REJECTED(`no ${i}`) });
  }
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'plan_rejections', resume_state: 'PLAN_APPROVED', phase: 'plan_review' });
  d.send({ type: 'approve', actor: 'cli', note: 'good enough' });
  t.same(d.states().slice(-3), ['AWAITING_HUMAN', 'PLAN_APPROVED', 'IMPLEMENTING']);
  t.equal(d.record.history.at(-2)?.actor, 'cli');
  t.equal(d.record.history.at(-1)?.actor, 'orch');
  t.same(d.runs(), ['implement:S1']);
  t.match(d.record.last_review, { by: 'cli', outcome: 'approved', notes: 'good enough' });
});

t.test('a step failing twice then passing: retried with backoff, attempts counted on the step', async t => {
  const d = driver(spec);
  toImplementing(d);
  d.run({ reason: 'failed', error: 'Type checking failed\nmore' });
  t.equal(d.record.state, 'IMPLEMENTING');
  t.equal(d.record.phase_attempts, 1);
  t.equal(d.record.steps[0]?.attempts, 1);
  const retry = d.effects.find(e => e.type === 'run_phase');
  t.match(retry, { phase: 'implement', step_id: 'S1' });
  const notBefore = retry?.type === 'run_phase' ? retry.not_before : undefined;
  t.equal(d.record.next_attempt_at, new Date(notBefore ?? 0).toISOString());
  t.same(logs(d, 'retry'), ['⚠️  Retry attempt 2/3 for step S1 (task=RAE-001): Type checking failed']);
  t.match(d.record.last_error, { message: 'Type checking failed\nmore', phase: 'implement', reason: 'failed' });
  d.run({ reason: 'timed_out' });
  t.same(logs(d, 'retry'), ['⚠️  Retry attempt 3/3 for step S1 (task=RAE-001): timed out']);
  d.run();
  t.same(d.runs(), ['step_review:S1']);
  t.equal(d.record.steps[0]?.attempts, 3);
  t.equal(d.record.counters.same_error, 0, 'a success resets the no-progress count');
  t.equal(d.record.next_attempt_at, undefined);
});

t.test('backoff waits follow the implement phase policy with the random from the context', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, implement: { command: ['i'], retry: { max_attempts: 5, base_delay_s: 10, jitter: 0.5 } } }));
  toImplementing(d);
  d.random = () => 0;
  const waits: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = d.now;
    d.run({ reason: 'failed', error: `e${i}` });
    const effect = d.effects.find(e => e.type === 'run_phase');
    waits.push((effect?.type === 'run_phase' ? effect.not_before ?? 0 : 0) - (before + 1000));
  }
  t.same(waits, [5000, 10_000, 20_000]);
});

t.test('a non-retryable failure goes straight to FAILED', async t => {
  const d = driver(spec);
  toImplementing(d);
  d.run({ reason: 'failed', retryable: false, error: 'Invalid API key' });
  t.equal(d.record.state, 'FAILED');
  t.same(d.runs(), []);
  t.equal(d.record.steps[0]?.state, 'FAILED');
  t.equal(d.record.phase_attempts, 1);
  t.match(messages(d, 'task').at(-1), /^❌ Task RAE-001 completed with status: failed/);
  t.match(d.record.last_error, { message: 'Invalid API key', reason: 'failed' });
});

t.test('retries exhausted: FAILED by default, AWAITING_HUMAN with on_exhausted human; approve grants fresh attempts', async t => {
  const failing = driver(spec);
  toImplementing(failing);
  for (let i = 0; i < 3; i++) failing.run({ reason: 'failed', error: `error ${i}` });
  t.equal(failing.record.state, 'FAILED');

  const d = driver(spec, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human' }));
  toImplementing(d);
  for (let i = 0; i < 3; i++) d.run({ reason: 'failed', error: `error ${i}` });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'exhausted', resume_state: 'IMPLEMENTING', phase: 'implement' });
  t.match(d.record.awaiting?.reason, /implement failed 3\/3 attempts: error 2/);
  t.same(d.runs(), []);
  d.send({ type: 'approve', actor: 'human', note: 'try the other API' });
  t.equal(d.record.state, 'IMPLEMENTING');
  t.equal(d.record.steps[0]?.attempts, 0);
  t.equal(d.record.phase_attempts, 0);
  t.equal(d.record.feedback, 'try the other API');
  t.same(d.runs(), ['implement:S1']);
  t.equal(d.record.awaiting, undefined);
});

t.test('a rate limit parks the task until the reset without spending an attempt', async t => {
  const d = driver(spec);
  toImplementing(d);
  const until = d.now + 1_800_000;
  d.run({ reason: 'rate_limited', error: 'usage limit reached', rate_limited_until: until });
  t.equal(d.record.phase_attempts, 0);
  t.equal(d.record.steps[0]?.attempts, 0);
  t.equal(d.record.next_attempt_at, new Date(until).toISOString());
  t.match(d.effects.find(e => e.type === 'run_phase'), { phase: 'implement', step_id: 'S1', not_before: until });
  t.equal(d.record.state, 'IMPLEMENTING');
  const noReset = d.now;
  d.run({ reason: 'rate_limited' });
  t.equal(d.record.next_attempt_at, new Date(noReset + 60_000 + 1000).toISOString(), 'no reset time: the fallback wait');
  t.equal(d.record.phase_attempts, 0);
});

t.test('rate-limit waits add up to max_rate_limit_wait_s (1 h), then the task waits for a human with the reason', async t => {
  const d = driver(spec);
  toImplementing(d);
  for (let i = 0; i < 3; i++) d.run({ reason: 'rate_limited', error: 'HTTP 429', rate_limited_until: d.now + 1_000_000 });
  t.equal(d.record.state, 'IMPLEMENTING', 'three waits of 1,000 s fit in the hour');
  t.equal(d.record.counters.rate_limit_wait_ms, 3 * 999_000, 'each wait counted from the attempt\'s end');
  d.run({ reason: 'rate_limited', error: 'HTTP 429', rate_limited_until: d.now + 1_000_000 });
  t.equal(d.record.state, 'AWAITING_HUMAN', 'a fourth would pass the hour');
  t.match(d.record.awaiting, { kind: 'rate_limit', reason: /over max_rate_limit_wait_s 3600s \(HTTP 429\)/ });
  t.equal(d.record.steps[0]?.attempts, 0, 'no attempt was spent');
  d.send({ type: 'approve', actor: 'human' });
  t.equal(d.record.state, 'IMPLEMENTING', 'approve runs the phase again');
  t.equal(d.record.counters.rate_limit_wait_ms, undefined, 'with the wait counted from zero');
});

t.test('a config problem (a refused flag) waits for a human at once, with the client\'s words', async t => {
  const d = driver(spec);
  toImplementing(d);
  d.run({ reason: 'failed', error: "codex: error: unexpected argument '--full-auto' found", config_problem: true, exit_code: 2 });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'config', reason: /Config problem in implement: codex: error: unexpected argument '--full-auto'/ });
  t.equal(d.record.steps[0]?.attempts, 1, 'one attempt, no retry');
  t.equal(d.effects.filter(e => e.type === 'run_phase').length, 0);
});

t.test('a human gate waits before its phase, once; approve runs the phase', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, human_gate: ['implement'] }));
  d.send({ type: 'start' });
  d.run({ result: PLAN_2 });
  d.run({ result: APPROVED });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'gate', resume_state: 'IMPLEMENTING', phase: 'implement' });
  t.same(d.states().slice(-2), ['PLAN_APPROVED', 'AWAITING_HUMAN']);
  t.same(d.runs(), []);
  d.send({ type: 'approve', actor: 'cli' });
  t.same(d.runs(), ['implement:S1']);
  t.equal(d.record.history.at(-1)?.actor, 'cli');
  d.run();
  d.run({ result: APPROVED });
  t.same(d.runs(), ['implement:S2'], 'the gate is not asked again for the next step');
  t.equal(d.record.state, 'IMPLEMENTING');
});

t.test('a gate on the first phase parks at start; a gate on a phase with nothing to run still asks', async t => {
  const d = driver({ goal: 'g' }, configWith({ run: ['x'], human_gate: ['implement', 'code_review'] }));
  d.send({ type: 'start' });
  t.match(d.record.awaiting, { kind: 'gate', resume_state: 'IMPLEMENTING', phase: 'implement' });
  t.same(d.states(), ['AWAITING_HUMAN']);
  d.send({ type: 'approve', actor: 'human' });
  d.run();
  t.match(d.record.awaiting, { kind: 'gate', resume_state: 'CODE_REVIEW', phase: 'code_review' });
  d.send({ type: 'approve', actor: 'human' });
  t.equal(d.record.state, 'DONE');
  t.same(d.states(), ['AWAITING_HUMAN', 'IMPLEMENTING', 'AWAITING_HUMAN', 'CODE_REVIEW', 'DONE']);
});

t.test('a budget breach parks a running task with the reason, once', async t => {
  const d = driver({ ...spec, max_cost_usd: 1 });
  d.send({ type: 'start' });
  d.run({ result: { ...PLAN_2, cost_usd: 0.6 } });
  t.equal(d.record.state, 'PLAN_REVIEW');
  d.run({ result: { ...APPROVED, cost_usd: 0.5 } });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'budget', resume_state: 'IMPLEMENTING', phase: 'implement' });
  t.match(d.record.awaiting?.reason, 'Budget exceeded: cost $1.10 > max_cost_usd $1.00');
  t.same(d.runs(), [], 'the run the plan approval asked for is withdrawn');
  d.send({ type: 'approve', actor: 'cli' });
  t.same(d.runs(), ['implement:S1']);
  d.run({ result: { cost_usd: 0.5 } });
  t.equal(d.record.state, 'IMPLEMENTING', 'approved past the limit: no second park');

  const tokens = driver({ ...spec, max_tokens: 100 });
  tokens.send({ type: 'start' });
  tokens.run({ reason: 'failed', result: { tokens: 150 } });
  t.match(tokens.record.awaiting, { kind: 'budget', resume_state: 'PLANNING', reason: 'Budget exceeded: 150 tokens > max_tokens 100' });
});

t.test('the no-progress breaker parks after the same error N times in a row', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, implement: { command: ['i'], retry: { max_attempts: 10 } }, no_progress_limit: 3 }));
  toImplementing(d);
  d.run({ reason: 'failed', error: 'boom\ntrace 1' });
  d.run({ reason: 'failed', error: 'other' });
  d.run({ reason: 'failed', error: 'boom\ntrace 2' });
  d.run({ reason: 'failed', error: 'boom\ntrace 3' });
  t.equal(d.record.state, 'IMPLEMENTING');
  t.equal(d.record.counters.same_error, 2);
  d.run({ reason: 'failed', error: 'boom\ntrace 4' });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'no_progress', resume_state: 'IMPLEMENTING', reason: 'The same error 3 times in a row: boom' });
  t.equal(d.record.counters.error_signature, '1:boom');
  d.send({ type: 'approve', actor: 'cli' });
  t.equal(d.record.counters.same_error, 0);
  t.equal(d.record.phase_attempts, 5, 'attempts are kept: only the breaker is reset');
  t.same(d.runs(), ['implement:S1']);
});

t.test('interruptions are not failures, up to the cap; over it the task waits for a human', async t => {
  const d = driver(spec);
  toImplementing(d);
  for (let i = 1; i <= 3; i++) {
    d.run({ reason: 'interrupted', exit_code: null, signal: 'SIGKILL' });
    t.equal(d.record.counters.interruptions, i);
    t.same(d.runs(), ['implement:S1']);
  }
  t.equal(d.record.phase_attempts, 0);
  t.equal(d.record.state, 'IMPLEMENTING');
  d.run({ reason: 'interrupted', exit_code: null, signal: 'SIGKILL' });
  t.match(d.record.awaiting, { kind: 'interruptions', resume_state: 'IMPLEMENTING', phase: 'implement' });
  d.send({ type: 'approve', actor: 'cli' });
  t.equal(d.record.counters.interruptions, 0);
  t.same(d.runs(), ['implement:S1']);
});

t.test('rework: a step review rejection sends the step back with feedback, within its attempts', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human' }));
  toImplementing(d);
  d.run();
  d.run({ result: REJECTED('Missing tests') });
  t.same(d.runs(), ['implement:S1']);
  t.equal(d.record.feedback, 'Missing tests');
  t.same(logs(d, 'retry'), ['⚠️  Retry attempt 2/3 for step S1 (task=RAE-001): Missing tests']);
  t.equal(d.record.steps[0]?.state, 'IMPLEMENTING');
  d.run();
  d.run({ result: REJECTED('Still missing') });
  d.run();
  d.run({ result: REJECTED('Nope') });
  t.equal(d.record.state, 'AWAITING_HUMAN');
  t.match(d.record.awaiting, { kind: 'exhausted', phase: 'implement', resume_state: 'IMPLEMENTING' });
});

t.test('a failed quality gate sends the last step back naming the failed checks', async t => {
  const d = driver(spec);
  toImplementing(d);
  for (let i = 0; i < 5; i++) d.run({ result: APPROVED });
  t.equal(d.record.state, 'QUALITY_GATE');
  d.run({ reason: 'failed', result: { checks: [{ name: 'test', passed: true }, { name: 'mypy', passed: false, message: 'Type checking failed' }] }, took: 45_200 });
  t.same(logs(d, 'quality_gate'), ['Quality Gate ❌ FAILED (task=RAE-001, 45.2s)', '❌ mypy failed']);
  t.same(logs(d, 'retry'), ['⚠️  Retry attempt 2/3 for step S2 (task=RAE-001): ❌ mypy failed: Type checking failed']);
  t.equal(d.record.state, 'IMPLEMENTING');
  t.same(d.runs(), ['implement:S2']);
  t.equal(d.record.feedback, 'Quality gate failed:\n❌ mypy failed: Type checking failed');
  t.same(d.states().slice(-2), ['QUALITY_GATE', 'IMPLEMENTING']);
});

t.test('a code review rejection reworks the last step', async t => {
  const d = driver(spec);
  toImplementing(d);
  for (let i = 0; i < 4; i++) d.run({ result: APPROVED });
  t.equal(d.record.state, 'CODE_REVIEW');
  d.run({ result: REJECTED('Split the module') });
  t.same(d.runs(), ['implement:S2']);
  t.equal(d.record.steps[1]?.state, 'IMPLEMENTING');
  t.equal(d.record.steps[0]?.state, 'COMPLETED');
});

t.test('the deadline fails the task and stops its command (or parks it with on_exhausted human)', async t => {
  const d = driver({ ...spec, deadline_s: 60 });
  d.send({ type: 'start' });
  t.equal(d.record.deadline_at, new Date(T0 + 60_000).toISOString());
  d.begin();
  d.send({ type: 'deadline_passed' });
  t.equal(d.record.state, 'PLANNING', 'an early timer changes nothing');
  d.now = T0 + 61_000;
  d.send({ type: 'deadline_passed' });
  t.equal(d.record.state, 'FAILED');
  t.match(d.effects[0], { type: 'stop_command' });
  d.end(1, { reason: 'cancelled', exit_code: null, signal: 'SIGTERM' });
  t.equal(d.record.attempts[0]?.reason, 'cancelled');
  t.equal(d.record.state, 'FAILED');

  const h = driver({ ...spec, deadline_s: 60 }, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human' }));
  h.send({ type: 'start' });
  h.now = T0 + 61_000;
  h.send({ type: 'deadline_passed' });
  t.match(h.record.awaiting, { kind: 'deadline', resume_state: 'PLANNING' });
  h.send({ type: 'approve', actor: 'cli' });
  t.equal(h.record.deadline_at, undefined, 'approving past the deadline lifts it');
  t.same(h.runs(), ['plan']);
});

t.test('human decisions: reject fails, retry from a phase, replan, each keeps the note', async t => {
  const mk = () => {
    const d = driver(spec, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human' }));
    toImplementing(d);
    d.run();
    d.run({ result: APPROVED });
    for (let i = 0; i < 3; i++) d.run({ reason: 'failed', error: 'x' + i });
    t.equal(d.record.state, 'AWAITING_HUMAN');
    return d;
  };
  const rejected = mk();
  rejected.send({ type: 'reject', actor: 'cli', note: 'not worth it' });
  t.equal(rejected.record.state, 'FAILED');
  t.match(rejected.record.last_review, { by: 'cli', outcome: 'rejected', notes: 'not worth it' });
  t.equal(rejected.record.history.at(-1)?.actor, 'cli');

  const retried = mk();
  retried.send({ type: 'retry', actor: 'human', from_phase: 'implement', note: 'use the cache' });
  t.same(retried.runs(), ['implement:S2']);
  t.equal(retried.record.feedback, 'use the cache');
  t.equal(retried.record.steps[1]?.attempts, 0);
  t.equal(retried.record.steps[0]?.state, 'COMPLETED');

  const replanned = mk();
  replanned.send({ type: 'replan', actor: 'cli', note: 'smaller steps' });
  t.same(replanned.runs(), ['plan']);
  t.equal(replanned.record.state, 'PLANNING');
  t.same(replanned.record.steps.map(s => s.id), ['S1']);
  t.equal(replanned.record.feedback, 'smaller steps');

  const fromFailed = driver(spec);
  toImplementing(fromFailed);
  fromFailed.run({ reason: 'failed', retryable: false });
  fromFailed.send({ type: 'retry', actor: 'cli' });
  t.same(fromFailed.runs(), ['implement:S1'], 'a FAILED task can be retried where it failed');
});

t.test('illegal decisions throw ORCH_ILLEGAL_TRANSITION naming task, states and actor', async t => {
  const d = driver(spec);
  toImplementing(d);
  t.throws(() => d.send({ type: 'approve', actor: 'cli' }), { code: 'ORCH_ILLEGAL_TRANSITION', details: { task: 'RAE-001', from: 'IMPLEMENTING', actor: 'cli' } });
  t.throws(() => d.send({ type: 'reject', actor: 'human' }), { code: 'ORCH_ILLEGAL_TRANSITION', message: /IMPLEMENTING → FAILED \(reject\) by human is only allowed for orch/ });
  t.throws(() => d.send({ type: 'replan', actor: 'cli' }), { code: 'ORCH_ILLEGAL_TRANSITION' });
  t.throws(() => d.send({ type: 'start' }), { code: 'ORCH_ILLEGAL_TRANSITION' });
  d.send({ type: 'cancel', actor: 'cli' });
  t.throws(() => d.send({ type: 'cancel', actor: 'cli' }), { code: 'ORCH_ILLEGAL_TRANSITION', details: { from: 'CANCELLED', to: 'CANCELLED' } });
});

t.test('cancel stops the running command; its late end only closes the attempt', async t => {
  const d = driver(spec);
  toImplementing(d);
  const n = d.begin();
  d.send({ type: 'cancel', actor: 'cli', note: 'wrong approach' });
  t.equal(d.record.state, 'CANCELLED');
  t.match(d.effects, [{ type: 'stop_command' }, { type: 'log', message: 'Task RAE-001 cancelled: cancelled by cli: wrong approach' }]);
  d.end(n, { reason: 'cancelled', exit_code: null, signal: 'SIGTERM' });
  t.equal(d.record.state, 'CANCELLED');
  t.ok(d.record.attempts.every(a => a.ended_at !== undefined));
  t.same(d.runs(), []);
  const late = d.begin === undefined ? 0 : d.record.attempts.length + 1;
  d.send({
    type: 'attempt_started',
    attempt: { n: late, phase: 'implement', step_id: 'S1', started_at: new Date(d.now).toISOString(), artifacts_dir: 'runs/x' },
  });
  t.match(d.effects, [{ type: 'stop_command' }], 'a command started after the cancel is stopped at once');
});

t.test('spec deleted cancels a running task and leaves a finished one alone', async t => {
  const d = driver(spec);
  toImplementing(d);
  d.send({ type: 'spec_deleted' });
  t.equal(d.record.state, 'CANCELLED');
  t.equal(d.record.history.at(-1)?.actor, 'orch');
  const before = d.record;
  const frozen = deepFreeze(structuredClone(before));
  const out = transition(frozen, { type: 'spec_deleted' }, d.ctx());
  t.equal(out.record, frozen, 'nothing changed: the same record object comes back');
  t.same(out.effects, []);
});

t.test('a spec changed on a DONE task starts generation 2, history kept', async t => {
  const d = driver({ goal: 'g' }, configWith({ run: ['x'] }));
  d.send({ type: 'start' });
  d.run({ result: { cost_usd: 0.2 } });
  t.equal(d.record.state, 'DONE');
  d.send({ type: 'spec_changed', spec: { goal: 'g2' }, hash: HASH2, mode: 'next_phase' });
  t.equal(d.record.generation, 2);
  t.equal(d.record.spec_hash, HASH2);
  t.same(d.states(), ['IMPLEMENTING', 'DONE', 'NEW', 'IMPLEMENTING']);
  t.same(d.record.history.map(h => h.generation), [1, 1, 2, 2]);
  t.equal(d.record.cost.usd, 0);
  t.equal(d.record.attempts.length, 1, 'attempts of generation 1 are kept');
  t.same(d.runs(), ['implement:S1']);
  t.equal(d.record.steps[0]?.goal, 'g2');
  d.run();
  t.equal(d.record.attempts[1]?.generation, 2);
  t.equal(d.record.state, 'DONE');
  const same = transition(deepFreeze(structuredClone(d.record)), { type: 'spec_changed', spec: { goal: 'g2' }, hash: HASH2, mode: 'restart' }, d.ctx());
  t.same(same.effects, [], 'the same hash again changes nothing');
});

t.test('a spec changed on a running task restarts the phase or waits for the next one', async t => {
  const restart = driver(spec);
  toImplementing(restart);
  const n = restart.begin();
  restart.send({ type: 'spec_changed', spec: { ...spec, goal: 'new goal' }, hash: HASH2, mode: 'restart' });
  t.match(restart.effects.filter(e => e.type !== 'log'), [{ type: 'stop_command' }, { type: 'run_phase', phase: 'implement', step_id: 'S1' }]);
  t.equal(restart.record.spec.goal, 'new goal');
  restart.end(n, { reason: 'cancelled', exit_code: null, signal: 'SIGTERM' });
  t.same(restart.effects, [], 'the stopped attempt only closes');
  t.equal(restart.record.state, 'IMPLEMENTING');

  const later = driver(spec);
  toImplementing(later);
  later.begin();
  later.send({ type: 'spec_changed', spec: { ...spec, goal: 'new goal' }, hash: HASH2, mode: 'next_phase' });
  t.same(later.effects.filter(e => e.type !== 'log'), []);
  t.equal(later.record.spec_hash, HASH2);
});

t.test('next_phase: a spec changed during the last phase runs again as a new generation; one changed before it is taken up', async t => {
  const last = driver({ goal: 'g' }, configWith({ run: ['x'] }));
  last.send({ type: 'start' });
  const n = last.begin();
  last.send({ type: 'spec_changed', spec: { goal: 'g2' }, hash: HASH2, mode: 'next_phase' });
  last.end(n);
  t.same(last.states(), ['IMPLEMENTING', 'DONE', 'NEW', 'IMPLEMENTING'], 'DONE for the spec its command saw, then the new one runs');
  t.equal(last.record.generation, 2);
  t.match(last.record.history.at(-2), { to: 'NEW', reason: 'spec changed during its last phase: generation 2' });
  t.same(last.runs(), ['implement:S1']);
  t.equal(last.record.steps[0]?.goal, 'g2');
  t.ok(messages(last, 'watcher').includes('Spec of task RAE-001 changed during its last phase: it was DONE, it runs again as generation 2'));
  last.run();
  t.equal(last.record.state, 'DONE', 'the new generation saw the spec it ends with');
  t.equal(last.record.generation, 2);

  const before = driver(spec);
  toImplementing(before);
  const first = before.begin();
  before.send({ type: 'spec_changed', spec: { ...spec, goal: 'new goal' }, hash: HASH2, mode: 'next_phase' });
  before.end(first, { result: APPROVED });
  for (let i = 0; i < 4; i++) before.run({ result: APPROVED });
  before.run({ result: CHECKS_OK });
  t.equal(before.record.state, 'DONE', 'the phases after the edit saw it: DONE');
  t.equal(before.record.generation, 1);
  t.equal(before.record.attempts.at(-1)?.spec_hash, HASH2);
});

t.test('a stale attempt end (a newer attempt exists) only closes that attempt', async t => {
  const d = driver(spec);
  toImplementing(d);
  const old = d.begin();
  d.send({ type: 'spec_changed', spec: { ...spec, goal: 'v2' }, hash: HASH2, mode: 'restart' });
  d.begin();
  d.end(old, { reason: 'failed', error: 'killed' });
  t.equal(d.record.phase_attempts, 0);
  t.same(d.effects, []);
  t.ok(d.record.attempts[d.record.attempts.length - 2]?.ended_at);
});

t.test('the input record is never changed, even deep-frozen', async t => {
  const d = driver(spec, configWith({ ...FULL_WORKFLOW, on_exhausted: 'human', human_gate: ['code_review'] }));
  toImplementing(d);
  const frozen = deepFreeze(structuredClone(d.record)) as TaskRecord;
  const out = transition(frozen, { type: 'attempt_started', attempt: { n: 9, phase: 'implement', step_id: 'S1', started_at: new Date(T0).toISOString(), artifacts_dir: 'a' } }, d.ctx());
  t.not(out.record, frozen);
  t.equal(frozen.attempts.length, 2);
  t.equal(out.record.attempts.length, 3);
  // The driver deep-freezes every input and checks it is unchanged: a full run exercises every path.
  d.run();
  d.run({ result: REJECTED('x') });
  for (let i = 0; i < 2; i++) d.run({ reason: 'failed', error: 'e' });
  t.equal(d.record.state, 'AWAITING_HUMAN', 'the rework and the failures share the step\'s 3 attempts');
  d.send({ type: 'approve', actor: 'cli' });
  t.equal(d.record.state, 'IMPLEMENTING');
});
