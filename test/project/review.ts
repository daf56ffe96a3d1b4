import t from 'tap';
import { DEFAULT_STEP_ID } from '../../src/machine/record.js';
import { listAwaitingHuman, listFailed, reviewCommands, reviewItem, reviewPlan, UNPLANNED_STEP_ID } from '../../src/project/review.js';
import { statePaths } from '../../src/store/paths.js';
import type { Awaiting } from '../../src/generated/types.js';
import { at, makeRecord, writeRecords } from '../fixtures/read-records.js';

t.test('the commands for a waiting task name its id and the phase it stopped at, and say what each does', async t => {
  const kinds: Awaiting['kind'][] = ['gate', 'exhausted', 'plan_rejections', 'budget', 'no_progress', 'interruptions', 'deadline'];
  const effects = kinds.map(kind => reviewCommands({ id: 'T9', phase: 'implement', awaiting: { since: at(1), kind, reason: 'r', phase: 'code_review' } })[0]?.effect);
  t.same(effects, [
    'let code_review start',
    'run code_review again with fresh attempts',
    'accept the plan as it is and go on to the first step',
    'carry on with code_review past the budget',
    'run code_review again (the no-progress count starts over)',
    'resume code_review (the interruption count starts over)',
    'carry on with code_review past the deadline',
  ]);
  t.same(reviewCommands({ id: 'T9' }, { orch: 'orch --root /srv/app' }).map(c => c.command), [
    'orch --root /srv/app approve T9 --note "..."',
    'orch --root /srv/app retry T9',
    'orch --root /srv/app replan T9',
    'orch --root /srv/app reject T9',
    'orch --root /srv/app cancel T9',
  ]);
});

t.test('only AWAITING_HUMAN tasks are listed, longest waiting first, and unreadable records are reported', async t => {
  const root = t.testdir({ '.isollm': { state: { tasks: {
    'broken.json': '{',
    'nostate.json': JSON.stringify({ id: 'nostate' }),
    'odd-done.json': JSON.stringify({ id: 'odd-done', state: 'DONE', bogus: true }),
  } } } });
  const paths = statePaths(root);
  writeRecords(paths.stateDir, [
    makeRecord('late', { state: 'AWAITING_HUMAN', awaiting: { since: at(50), kind: 'gate', reason: 'gate before implement', phase: 'implement' } }),
    makeRecord('early', { state: 'AWAITING_HUMAN', awaiting: { since: at(10), kind: 'exhausted', reason: 'failed 3/3' }, last_error: { at: at(9), message: 'boom\ntrace', phase: 'plan', reason: 'failed' } }),
    makeRecord('busy', { state: 'IMPLEMENTING' }),
  ]);
  const list = await listAwaitingHuman(paths);
  t.same(list.items.map(i => i.id), ['early', 'late']);
  t.match(list.items[0], { kind: 'exhausted', last_error: { message: 'boom', phase: 'plan', reason: 'failed' }, title: 'task early' });
  t.match(list.invalid, [
    { path: '.isollm/state/tasks/broken.json', code: 'ORCH_INVALID_JSON' },
    { path: '.isollm/state/tasks/nostate.json', code: 'ORCH_SCHEMA_INVALID' },
  ], 'a record that may be waiting is checked; one that says it is DONE is left to orch status');
  t.match(reviewItem(makeRecord('odd', { state: 'AWAITING_HUMAN' })), { kind: null, reason: /without a reason/ });
});

t.test('the plan of a waiting task: its steps as the record holds them, where they came from, and the step it stopped at', async t => {
  const steps = [
    { id: 'S1', title: 'First step', goal: 'do the first part', state: 'COMPLETED' as const, attempts: 1 },
    { id: 'S2', title: 'Second step', state: 'IMPLEMENTING' as const, attempts: 2 },
  ];
  const waiting = { since: at(1), kind: 'exhausted' as const, reason: 'failed', phase: 'implement' as const };
  t.same(reviewPlan(makeRecord('P', { state: 'AWAITING_HUMAN', phase: 'implement', step_index: 1, steps, awaiting: waiting })), {
    source: 'planner',
    steps: [
      { id: 'S1', title: 'First step', goal: 'do the first part', state: 'COMPLETED', attempts: 1, current: false },
      { id: 'S2', title: 'Second step', goal: null, state: 'IMPLEMENTING', attempts: 2, current: true },
    ],
  });
  const gated = reviewPlan(makeRecord('G', { state: 'AWAITING_HUMAN', phase: 'code_review', step_index: 1, steps, awaiting: { ...waiting, kind: 'gate', phase: 'code_review' } }));
  t.same(gated.steps.map(s => s.current), [false, false], 'waiting outside a step phase: no step is current');
  const spec = { title: 'task S', goal: 'do S', steps: [{ id: 'A', title: 'a' }] as [{ id: string; title: string }] };
  t.equal(reviewPlan(makeRecord('S', { spec, steps: [{ id: 'A', title: 'a', state: 'PENDING', attempts: 0 }] })).source, 'spec');
  const unplanned = makeRecord('U', { steps: [{ id: 'S1', title: 'task U', goal: 'do U', state: 'PENDING', attempts: 0 }] });
  t.match(reviewPlan(unplanned), { source: 'none', steps: [{ id: 'S1' }] }, 'the task\'s own single step is no plan');
  t.equal(reviewPlan(makeRecord('E')).source, 'none', 'no steps yet');
  t.equal(UNPLANNED_STEP_ID, DEFAULT_STEP_ID, 'the same id the machine gives an unplanned task');
  t.match(reviewItem(makeRecord('I', { state: 'AWAITING_HUMAN', steps })), { plan: { source: 'planner' } }, 'every review item carries its plan');
});

t.test('listFailed: every FAILED task with its rev, phase and last error, and the records that could not be read', async t => {
  const root = t.testdir({ '.isollm': { state: { tasks: { 'torn.json': '{"state": "FAI' } } } });
  const paths = statePaths(root);
  writeRecords(paths.stateDir, [
    makeRecord('F2', { state: 'FAILED', phase: 'implement', rev: 7, last_error: { at: at(5), message: 'invalid API key\nmore', phase: 'implement', reason: 'failed' } }),
    makeRecord('F1', { state: 'FAILED', phase: 'plan' }),
    makeRecord('D1', { state: 'DONE' }),
  ]);
  const list = await listFailed(paths);
  t.match(list.items, [{ id: 'F1', phase: 'plan' }, { id: 'F2', rev: 7, phase: 'implement', reason: 'invalid API key', title: 'task F2' }]);
  t.match(list.invalid, [{ path: '.isollm/state/tasks/torn.json' }]);
});
