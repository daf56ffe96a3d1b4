// Hand edits of a record made while no orchestrator runs (PRODUCT.md §6, issue 13 item 8): the next
// start, and `orch doctor` before it, judge them exactly as a live orchestrator would have. Real
// projects, real runs of the orchestrator, records edited on disk between runs.
import t from 'tap';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { doctorProject } from '../../src/project/doctor.js';
import { decide } from '../../src/runtime/decide.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { statePaths } from '../../src/store/paths.js';
import { checkSeal } from '../../src/store/record-seal.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';

const recordFile = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(recordFile(root, id), 'utf8'));
const editRecord = (root: string, id: string, change: (r: TaskRecord) => TaskRecord): void => writeFileSync(recordFile(root, id), JSON.stringify(change(record(root, id)), null, 2));
const rejectedCopies = (root: string, id: string): string[] => readdirSync(join(root, '.isollm/state/tasks')).filter(name => name.startsWith(`${id}.rejected-`));
const implementOnly = { implement: { command: [process.execPath, STUB_AGENT] as [string, ...string[]] }, retry: { max_attempts: 1 }, on_exhausted: 'human' as const };

/** A project whose task T waits for a person (its one attempt failed) and whose task D is DONE. */
async function project(dir: string): Promise<string> {
  const root = makeProject(join(dir, 'project'), {
    workflow: implementOnly,
    tasks: { T: { goal: 'fails once', env: script({ implement: ['fail', 'ok'] }, { STUB_DIR: dir }) }, D: { goal: 'passes' } },
  });
  const first = await runOnce(root);
  if (first.awaiting[0] !== 'T' || first.done[0] !== 'D') throw new Error(`T should wait and D be done: ${JSON.stringify(first)}`);
  return root;
}

t.test('every record orch writes is sealed, and the seal holds until a hand edit', async t => {
  const root = await project(t.testdir());
  for (const id of ['T', 'D']) t.equal(checkSeal(record(root, id)).kind, 'intact', `${id} is as orch wrote it`);
  t.ok((await doctorProject(statePaths(root))).healthy);
});

t.test('the state of a waiting task set by hand while no orchestrator ran: doctor says what the next start does, and it applies the decision with its history', async t => {
  const root = await project(t.testdir());
  editRecord(root, 'T', r => ({ ...r, state: 'IMPLEMENTING' }));
  const report = await doctorProject(statePaths(root));
  t.match(report.problems, [{ kind: 'hand_edit', severity: 'warning', task: 'T', message: /its state, from AWAITING_HUMAN to IMPLEMENTING, a person's decision \(approve\)/, action: /orch approve T/ }]);
  t.ok(report.healthy, 'a legal decision is not a fault');
  const run = await runOnce(root);
  t.same(run.done.sort(), ['D', 'T']);
  const after = record(root, 'T');
  t.same(after.history.slice(-2).map(h => [h.from, h.to, h.actor]), [['AWAITING_HUMAN', 'IMPLEMENTING', 'human'], ['IMPLEMENTING', 'DONE', 'orch']], 'no hole in history: the move is there, by a person');
  t.match(readFileSync(run.runLogPath, 'utf8'), /Task T: the record was edited by hand to IMPLEMENTING: applied as a decision \(approve\)/);
  t.same(rejectedCopies(root, 'T'), []);
});

t.test('a finished task\'s state set by hand while no orchestrator ran is refused: kept aside, the record restored, said once', async t => {
  const root = await project(t.testdir());
  const before = record(root, 'D');
  editRecord(root, 'D', r => ({ ...r, state: 'FAILED' }));
  const report = await doctorProject(statePaths(root));
  t.match(report.problems, [{ kind: 'hand_edit', severity: 'error', task: 'D', message: /from DONE to FAILED: the task is DONE/, action: /refuses it/ }]);
  t.notOk(report.healthy);
  const run = await runOnce(root);
  const after = record(root, 'D');
  t.match(after, { state: 'DONE' });
  t.ok(after.rev > before.rev);
  t.equal(checkSeal(after).kind, 'intact');
  t.equal(rejectedCopies(root, 'D').length, 1, 'the edit is kept aside');
  t.match(JSON.parse(readFileSync(join(root, '.isollm/state/tasks', rejectedCopies(root, 'D')[0] ?? ''), 'utf8')), { state: 'FAILED' });
  t.match(readFileSync(run.runLogPath, 'utf8'), /Hand edit of the record of task D refused/);
  await runOnce(root);
  t.equal(rejectedCopies(root, 'D').length, 1, 'judged once');
  t.ok((await doctorProject(statePaths(root))).healthy);
});

t.test('steps edited by hand while no orchestrator ran: nothing runs on them until a person looks; the edit is kept, said once', async t => {
  const root = await project(t.testdir());
  editRecord(root, 'T', r => ({ ...r, steps: r.steps.map(s => ({ ...s, goal: 'something else entirely' })) }));
  const report = await doctorProject(statePaths(root));
  t.match(report.problems, [{ kind: 'hand_edit', severity: 'error', task: 'T', message: /beyond its state; orch keeps no copy/, action: /parks the task for a person/ }]);
  const run = await runOnce(root);
  t.same(run.awaiting, ['T'], 'still waiting for a person, now for the edit');
  const after = record(root, 'T');
  t.match(after.awaiting, { kind: 'hand_edit', reason: /edited by hand beyond its state/ });
  t.equal(checkSeal(after).kind, 'intact', 'sealed again: the same edit is not judged twice');
  t.equal(rejectedCopies(root, 'T').length, 1);
  t.match(readFileSync(run.runLogPath, 'utf8'), /The record of task T was edited by hand while no orchestrator ran, beyond its state/);
  await runOnce(root);
  t.equal(rejectedCopies(root, 'T').length, 1, 'judged once');
  await decide(statePaths(root), { taskId: 'T', action: 'approve', note: 'the new goal is right' });
  t.same((await runOnce(root)).done.sort(), ['D', 'T'], 'approved: it goes on from the record as edited');
});

t.test('a decision through the CLI is refused on a record edited by hand and not yet judged; nothing is applied', async t => {
  const root = await project(t.testdir());
  editRecord(root, 'T', r => ({ ...r, cost: { ...r.cost, usd: 999 } }));
  const before = readFileSync(recordFile(root, 'T'), 'utf8');
  await t.rejects(decide(statePaths(root), { taskId: 'T', action: 'approve' }), { code: 'ORCH_HAND_EDITED', message: /edited by hand since orch last wrote it \(more than its state\)/ });
  t.equal(readFileSync(recordFile(root, 'T'), 'utf8'), before);
});

t.test('a record written before records were sealed is taken as it is', async t => {
  const root = await project(t.testdir());
  editRecord(root, 'D', ({ seal: _seal, ...r }) => ({ ...r, cost: { ...r.cost, usd: 1 } }));
  t.equal(checkSeal(record(root, 'D')).kind, 'unsealed');
  t.ok((await doctorProject(statePaths(root))).healthy);
  await runOnce(root);
  t.same(rejectedCopies(root, 'D'), []);
  t.equal(record(root, 'D').cost.usd, 1);
});
