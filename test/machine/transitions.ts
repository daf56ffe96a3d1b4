import t from 'tap';
import type { Actor, TaskState } from '../../src/generated/types.js';
import { ACTORS, PHASES, STEP_STATES, TASK_STATES, TERMINAL_STATES, isTerminal, phaseOfState, stateOfPhase } from '../../src/machine/states.js';
import { allowedActors, assertLegal, isLegal, isLegalStepMove, LEGAL_TRANSITIONS, STEP_TRANSITIONS } from '../../src/machine/transitions.js';

t.test('the states, phases and actors are the schema\'s, in workflow order', async t => {
  t.same(TASK_STATES, ['NEW', 'PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'PLAN_REJECTED', 'IMPLEMENTING', 'CODE_REVIEW', 'QUALITY_GATE', 'AWAITING_HUMAN', 'DONE', 'FAILED', 'CANCELLED']);
  t.same(TERMINAL_STATES, ['DONE', 'FAILED', 'CANCELLED']);
  t.same(PHASES, ['plan', 'plan_review', 'implement', 'step_review', 'code_review', 'quality_gate']);
  t.same(STEP_STATES, ['PENDING', 'IMPLEMENTING', 'REVIEWING', 'COMPLETED', 'FAILED']);
  t.same(ACTORS, ['orch', 'cli', 'human']);
  t.ok(isTerminal('CANCELLED'));
  t.notOk(isTerminal('AWAITING_HUMAN'));
  for (const phase of PHASES) t.equal(phaseOfState(stateOfPhase(phase)) === phase || phase === 'step_review', true, phase);
});

t.test('the legal transition table, as a table', async t => {
  const lines = TASK_STATES.map(from => {
    const row: { readonly [To in TaskState]?: readonly Actor[] } = LEGAL_TRANSITIONS[from];
    const cells = TASK_STATES.filter(to => row[to] !== undefined).map(to => `${to}(${row[to]?.join('|')})`);
    return `${from.padEnd(15)} → ${cells.join(', ')}`;
  });
  t.matchSnapshot(lines.join('\n'), 'legal task transitions');
  t.matchSnapshot(STEP_TRANSITIONS, 'legal step transitions');
});

t.test('no state moves to itself, terminal states only start a new generation or take a retry', async t => {
  for (const state of TASK_STATES) {
    for (const actor of ACTORS) t.notOk(isLegal(state, state, actor), `${state} → ${state}`);
  }
  t.same(allowedActors('DONE', 'NEW'), ['orch']);
  t.same(allowedActors('CANCELLED', 'PLANNING'), []);
  t.same(allowedActors('FAILED', 'IMPLEMENTING'), ['cli', 'human']);
  for (const from of TASK_STATES.filter(s => !isTerminal(s))) t.ok(isLegal(from, 'CANCELLED', 'human'), `${from} can be cancelled`);
  t.ok(isLegalStepMove('COMPLETED', 'IMPLEMENTING'));
  t.notOk(isLegalStepMove('COMPLETED', 'REVIEWING'));
});

t.test('assertLegal names the task, both states and the actor', async t => {
  t.doesNotThrow(() => assertLegal({ id: 'T1', state: 'AWAITING_HUMAN' }, 'IMPLEMENTING', 'cli'));
  t.throws(() => assertLegal({ id: 'T1', state: 'IMPLEMENTING' }, 'DONE', 'human', 'approve'), {
    code: 'ORCH_ILLEGAL_TRANSITION',
    message: 'Task T1: IMPLEMENTING → DONE (approve) by human is only allowed for orch',
    details: { task: 'T1', from: 'IMPLEMENTING', to: 'DONE', actor: 'human', action: 'approve' },
  });
  t.throws(() => assertLegal({ id: 'T2', state: 'DONE' }, 'PLANNING', 'orch'), {
    code: 'ORCH_ILLEGAL_TRANSITION',
    message: 'Task T2: DONE → PLANNING by orch is not a legal transition',
  });
});
