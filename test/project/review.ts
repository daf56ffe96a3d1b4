import t from 'tap';
import { listAwaitingHuman, reviewCommands, reviewItem } from '../../src/project/review.js';
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
