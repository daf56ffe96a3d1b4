import t from 'tap';
import { readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startOrchestrator, runOnce } from '../../src/runtime/orchestrator.js';
import { decide } from '../../src/runtime/decide.js';
import { statePaths } from '../../src/store/paths.js';
import type { InboxDecision, TaskRecord } from '../../src/generated/types.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { waitFor, isAlive } from '../fixtures/wait-for.js';

const recordFile = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(recordFile(root, id), 'utf8'));
const implementOnly = { implement: { command: [process.execPath, STUB_AGENT] as [string, ...string[]] }, retry: { max_attempts: 1 }, on_exhausted: 'human' as const };

/** A project with task T parked in AWAITING_HUMAN (its only attempt failed, on_exhausted human). */
async function parked(counters: string): Promise<string> {
  const root = makeProject(join(counters, 'project'), { workflow: implementOnly, tasks: { T: { goal: 'fails once', env: script({ implement: ['fail', 'ok'] }, { STUB_DIR: counters }) } } });
  const first = await runOnce(root);
  if (first.awaiting[0] !== 'T') throw new Error(`T should wait for a human: ${JSON.stringify(first)}`);
  return root;
}

t.test('without an orchestrator, approve applies under the lock at once', async t => {
  const root = await parked(t.testdir());
  const before = record(root, 'T');
  const result = await decide(statePaths(root), { taskId: 'T', action: 'retry', note: 'try again' });
  t.equal(result.mode, 'applied');
  const after = record(root, 'T');
  t.equal(after.rev, before.rev + 1);
  t.equal(after.state, 'IMPLEMENTING');
  t.match(after.history.at(-1), { from: 'AWAITING_HUMAN', to: 'IMPLEMENTING', actor: 'cli' });
  t.same((await runOnce(root)).done, ['T'], 'the next run carries it to DONE');
});

t.test('an illegal decision is refused with both states named', async t => {
  const root = await parked(t.testdir());
  await decide(statePaths(root), { taskId: 'T', action: 'reject' });
  await t.rejects(decide(statePaths(root), { taskId: 'T', action: 'approve' }), { code: 'ORCH_ILLEGAL_TRANSITION', message: /FAILED/ });
  await t.rejects(decide(statePaths(root), { taskId: 'NOPE', action: 'approve' }), { code: 'ORCH_NOT_FOUND' });
});

t.test('an inbox decision is applied exactly once, even when dropped twice and raced with the CLI', async t => {
  const root = await parked(t.testdir());
  const orch = await startOrchestrator(root, { stayAlive: true });
  t.teardown(() => orch.stop());
  const rev = record(root, 'T').rev;
  const via = await decide(orch.paths, { taskId: 'T', action: 'approve', note: 'looks fine' });
  t.equal(via.mode, 'inbox', 'with a live orchestrator the CLI drops a file');
  // The same decision dropped a second time, and another one against the same rev.
  const copy: InboxDecision = { ...(via.mode === 'inbox' ? via.decision : ({} as InboxDecision)), decision_id: 'copy-of-it' };
  writeFileSync(join(orch.paths.inbox, 'copy-of-it.json'), JSON.stringify(copy));
  orch.engine.wake();
  await waitFor('T to be DONE', () => record(root, 'T').state === 'DONE');
  await waitFor('the inbox to be empty', () => readdirSync(orch.paths.inbox).filter(n => n.endsWith('.json')).length === 0);
  const r = record(root, 'T');
  t.equal(r.history.filter(h => h.from === 'AWAITING_HUMAN').length, 1, 'applied once');
  t.ok(r.rev > rev);
  orch.stop();
  await orch.done;
  const log = readFileSync(orch.paths.runLog, 'utf8');
  t.match(log, /applied against rev/);
  t.match(log, /refused: it was taken against rev \d+, and the record is at rev/);
});

t.test('a hand edit of state in AWAITING_HUMAN is a decision; any other hand edit is refused, kept aside and restored', async t => {
  const root = await parked(t.testdir());
  writeFileSync(join(root, '.isollm/tasks/U.json'), JSON.stringify({ goal: 'sleeps', env: script({ implement: ['sleep'] }) }));
  const orch = await startOrchestrator(root, { stayAlive: true });
  t.teardown(() => orch.stop());
  await waitFor('U to be running', () => record(root, 'U').attempts.at(-1)?.process !== undefined);

  const u = record(root, 'U');
  writeFileSync(recordFile(root, 'U'), JSON.stringify({ ...u, cost: { ...u.cost, usd: 999 } }, null, 2));
  orch.engine.wake();
  await waitFor('the refused edit to be kept aside', () => readdirSync(orch.paths.records).filter(n => n.startsWith('U.rejected-')).length === 1);
  await waitFor('U to be restored', () => record(root, 'U').cost.usd !== 999);
  writeFileSync(recordFile(root, 'U'), JSON.stringify({ ...u, bogus: true }, null, 2));
  orch.engine.wake();
  await waitFor('the schema-invalid edit to be kept aside too', () => readdirSync(orch.paths.records).filter(n => n.startsWith('U.rejected-')).length === 2);
  await waitFor('U to be restored again', () => (record(root, 'U') as unknown as { bogus?: boolean }).bogus === undefined);
  t.equal(record(root, 'U').state, 'IMPLEMENTING', 'the running task carries on');

  const tr = record(root, 'T');
  writeFileSync(recordFile(root, 'T'), JSON.stringify({ ...tr, state: 'FAILED' }, null, 2));
  orch.engine.wake();
  await waitFor('T to be rejected by the hand edit', () => {
    const now = record(root, 'T');
    return now.state === 'FAILED' && now.history.at(-1)?.actor === 'human';
  });
  orch.stop();
  await orch.done;
});

t.test('a hand edit made from a stale read (a rev older than the orchestrator\'s) is refused, kept aside and restored, never taken', async t => {
  const env = script({ implement: ['sleep'] });
  const root = makeProject(t.testdir(), { workflow: implementOnly, tasks: { U: { goal: 'sleeps', env } } });
  const orch = await startOrchestrator(root, { stayAlive: true });
  t.teardown(() => orch.stop());
  await waitFor('U to be running', () => record(root, 'U').attempts.at(-1)?.process !== undefined);
  const stale = record(root, 'U');
  // The orchestrator writes U after the person read it: a spec edit, taken up at the next phase.
  writeFileSync(join(root, '.isollm/tasks/U.json'), JSON.stringify({ goal: 'sleeps, edited', env }));
  orch.engine.wake();
  const newer = await waitFor('the spec edit to reach the record', () => record(root, 'U').spec.goal === 'sleeps, edited' && record(root, 'U'));
  writeFileSync(recordFile(root, 'U'), JSON.stringify({ ...stale, cost: { ...stale.cost, usd: 999 } }, null, 2));
  orch.engine.wake();
  await waitFor('the stale edit to be kept aside', () => readdirSync(orch.paths.records).filter(n => n.startsWith('U.rejected-')).length === 1);
  const back = await waitFor('U to be restored', () => record(root, 'U').cost.usd !== 999 && record(root, 'U'));
  t.equal(back.spec.goal, 'sleeps, edited', 'the orchestrator\'s copy, not the stale one');
  t.ok(back.rev > newer.rev, 'its rev raised past every rev a reader saw');
  t.equal(back.state, 'IMPLEMENTING');
  orch.stop();
  await orch.done;
  t.match(readFileSync(orch.paths.runLog, 'utf8'), /Hand edit of the record of task U refused/);
});

t.test('a deleted spec cancels its task and stops its command; a shutdown marks a running attempt interrupted', async t => {
  const pids = join(t.testdir(), 'pids');
  const root = makeProject(t.testdir(), {
    workflow: implementOnly,
    tasks: { DEL: { goal: 'sleeps', env: script({ implement: ['sleep'] }, { STUB_PIDS: pids }) }, STOP: { goal: 'sleeps too', env: script({ implement: ['sleep'] }) } },
  });
  const orch = await startOrchestrator(root, { stayAlive: true });
  t.teardown(() => orch.stop());
  await waitFor('both commands to run', () => record(root, 'DEL').attempts.at(-1)?.process !== undefined && record(root, 'STOP').attempts.at(-1)?.process !== undefined);
  const started = await waitFor('the stub to record its pids', () => readFileSync(pids, 'utf8').trim().split('\n').map(Number).filter(n => n > 0).length >= 2 && readFileSync(pids, 'utf8').trim().split('\n').map(Number));
  rmSync(join(root, '.isollm/tasks/DEL.json'));
  orch.engine.wake();
  await waitFor('DEL to be CANCELLED', () => record(root, 'DEL').state === 'CANCELLED');
  await waitFor('its processes, grandchild included, to be gone', () => started.every(pid => !isAlive(pid)));
  const stopPid = record(root, 'STOP').attempts.at(-1)?.process?.pid ?? 0;
  orch.stop();
  await orch.done;
  t.notOk(isAlive(stopPid), 'shutdown stopped the running command');
  const stop = record(root, 'STOP');
  t.equal(stop.attempts.at(-1)?.reason, 'interrupted');
  t.equal(stop.state, 'IMPLEMENTING', 'the next run picks it up again');
  t.equal(stop.counters.interruptions, 1);
});

t.test('concurrent applies to one task never take the engine\'s own write for a hand edit', async t => {
  const root = makeProject(t.testdir(), { workflow: implementOnly, tasks: { R: { goal: 'sleeps', env: script({ implement: ['sleep'] }) } } });
  const orch = await startOrchestrator(root, { stayAlive: true });
  t.teardown(() => orch.stop());
  await waitFor('R to be running', () => record(root, 'R').attempts.at(-1)?.process !== undefined);
  const before = record(root, 'R');
  const hashes = Array.from({ length: 20 }, (_, i) => String(i).padStart(64, '0'));
  await Promise.all(hashes.map(hash => orch.engine.apply('R', { type: 'spec_changed', spec: { ...before.spec, title: hash.slice(-2) }, hash, mode: 'next_phase' })));
  const after = record(root, 'R');
  t.same(readdirSync(orch.paths.records).filter(n => n.includes('.rejected-')), [], 'no write of ours was refused as a hand edit');
  t.equal(after.rev, before.rev + 20, 'every apply wrote once, on top of the one before');
  t.equal(after.spec_hash, hashes.at(-1));
  orch.stop();
  await orch.done;
});
