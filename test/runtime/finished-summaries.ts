// Finished tasks kept as summaries (issue 16): a run keeps a finished task it read from disk as a few
// fields, and reads the whole record back when the task is touched again: from its file, from the seal
// (an edit of `state` alone), or from the archive of finished records. Real projects, a first run that
// finishes the tasks, then a live orchestrator over them whose records are edited, broken or removed.
import t, { type Test } from 'tap';
import { existsSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordIndex, TaskRecord } from '../../src/generated/types.js';
import { applyClean, planClean, planCleanState } from '../../src/project/clean.js';
import { doctorProject } from '../../src/project/doctor.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { isRecordOf, isSummary, summarize } from '../../src/runtime/record-summary.js';
import { statePaths } from '../../src/store/paths.js';
import { checkSeal } from '../../src/store/record-seal.js';
import { clearFaults, faultArmed, injectFault } from '../../src/testing/faults.js';
import { makeProject } from '../fixtures/project.js';
import { dropSpec, GOAL_WORKFLOW, goalRuns, recordOf, specPath, startWatching, testRoot, until, untilRecord } from '../fixtures/watch-helpers.js';

t.jobs = 1;

const recordFile = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const archiveFile = (root: string, id: string): string => join(root, '.isollm/state/archive', `${id}.json`);
const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(recordFile(root, id), 'utf8')) as TaskRecord;
const rejectedCopies = (root: string, id: string): string[] => readdirSync(join(root, '.isollm/state/tasks')).filter(name => name.startsWith(`${id}.rejected-`));
const runLog = (root: string): string => (existsSync(join(root, 'ORCHESTRATOR_RUN_LOG.md')) ? readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8') : '');
const runsStarted = (root: string): number => runLog(root).match(/^## Run: /gm)?.length ?? 0;
/** Sets the file's mtime a minute back: older than the racy rule's RACY_MS (cached-folder.ts). */
const settle = (path: string): void => utimesSync(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
const indexFile = (root: string): string => join(root, '.isollm/state/record-index.json');
const readIndex = (root: string): RecordIndex => JSON.parse(readFileSync(indexFile(root), 'utf8')) as RecordIndex;

/** A project whose task D is DONE (one run of GOAL_WORKFLOW), and the log of the goals its commands saw. */
async function finishedProject(t: Test): Promise<{ root: string; log: string; done: TaskRecord }> {
  const root = makeProject(testRoot(t), { workflow: GOAL_WORKFLOW, config: { resync_interval_s: 3600 }, tasks: { D: { goal: 'first' } } });
  const log = join(root, 'goals.log');
  const first = await runOnce(root, { env: { ...process.env, GOAL_LOG: log } });
  if (first.done[0] !== 'D') throw new Error(`D should be DONE: ${JSON.stringify(first)}`);
  return { root, log, done: record(root, 'D') };
}

/** Watch mode over `root`, once it has read the records (its run's section is open): D is a summary in it. */
async function watchFinished(t: Test, root: string, log: string): Promise<void> {
  const before = runsStarted(root);
  await startWatching(t, root, { env: { ...process.env, GOAL_LOG: log } });
  await until('the second run to have read the records', () => runsStarted(root) > before);
}

t.test('a finished record is summarized only while its seal holds and no attempt is open', async t => {
  const { done } = await finishedProject(t);
  const summary = summarize(done);
  t.ok(isSummary(summary));
  t.match(summary, { id: 'D', state: 'DONE', rev: done.rev, spec_hash: done.spec_hash, cost: { usd: done.cost.usd }, content: done.seal });
  t.ok(!isSummary(summarize({ ...done, steps: [] })), 'edited beyond its state: kept whole, for the start to judge');
  t.ok(!isSummary(summarize({ ...done, state: 'IMPLEMENTING' })), 'not finished');
  if (!isSummary(summary)) return;
  t.ok(isRecordOf(summary, done));
  t.notOk(isRecordOf(summary, { ...done, rev: done.rev + 1 }), 'another version');
  t.notOk(isRecordOf(summary, { ...done, cost: { ...done.cost, usd: 5 } }), 'another content');
  const { seal: _seal, ...unsealed } = done;
  t.ok(isSummary(summarize(unsealed)), 'a record written before seals: summarized by the hash of its content');
});

t.test('a finished task gets a copy in the archive, the record as written', async t => {
  const { root } = await finishedProject(t);
  t.equal(readFileSync(archiveFile(root, 'D'), 'utf8'), readFileSync(recordFile(root, 'D'), 'utf8'));
});

t.test('a copy the disk refuses is said in the run log; the record itself is written', async t => {
  const root = makeProject(testRoot(t), { workflow: GOAL_WORKFLOW, tasks: { D: { goal: 'first' } } });
  t.teardown(clearFaults);
  // The rename lands, the directory's fsync fails (EIO): the copy cannot be counted as written.
  injectFault('write.dir-fsync', { path: /[/\\]state[/\\]archive[/\\]D\.json$/ });
  const run = await runOnce(root, { env: { ...process.env, GOAL_LOG: join(root, 'goals.log') } });
  t.same(run.done, ['D']);
  t.match(readFileSync(run.runLogPath, 'utf8'), /A finished task's record could not be copied into \.isollm\/state\/archive: could not write .*D\.json: EIO/);
  t.equal(record(root, 'D').state, 'DONE');
});

t.test('a finished task read at start, its spec edited: it runs as generation 2 from its whole record', async t => {
  const { root, log, done } = await finishedProject(t);
  await watchFinished(t, root, log);
  writeFileSync(specPath(root, 'D'), JSON.stringify({ goal: 'second' }));
  const after = await untilRecord(root, 'D', 'to be DONE as generation 2', r => r.generation === 2 && r.state === 'DONE');
  t.same(goalRuns(log, 'D').map(run => run.goal), ['first', 'second']);
  t.same(after.history.slice(0, done.history.length), done.history, 'the first generation\'s history is kept');
  t.same(after.attempts.map(a => a.generation), [1, 2]);
  t.same(rejectedCopies(root, 'D'), []);
});

t.test('a finished record read at start, edited by hand beyond its state: the edit kept aside, the record restored from the archive', async t => {
  const { root, log, done } = await finishedProject(t);
  await watchFinished(t, root, log);
  writeFileSync(recordFile(root, 'D'), JSON.stringify({ ...done, steps: [{ ...done.steps[0], goal: 'edited by hand' }] }, null, 2));
  // Said once the edit is kept aside, after the record's restore.
  await until('the run log to say so', () => /Hand edit of the record of task D refused/.test(runLog(root)));
  const back = record(root, 'D');
  const { rev: _a, updated_at: _b, seal: _c, epoch: _d, ...content } = done;
  t.match(back, { ...content, rev: done.rev + 1 }, 'what orch wrote, back');
  t.equal(checkSeal(back).kind, 'intact');
  t.equal(rejectedCopies(root, 'D').length, 1);
  t.match(JSON.parse(readFileSync(join(root, '.isollm/state/tasks', rejectedCopies(root, 'D')[0] ?? ''), 'utf8')), { steps: [{ goal: 'edited by hand' }] });
});

t.test('the same edit with no copy in the archive: taken as edited, kept aside, written back sealed, and said', async t => {
  const { root, log, done } = await finishedProject(t);
  rmSync(archiveFile(root, 'D'));
  await watchFinished(t, root, log);
  writeFileSync(recordFile(root, 'D'), JSON.stringify({ ...done, steps: [{ ...done.steps[0], goal: 'edited by hand' }] }, null, 2));
  await until('the run log to say so', () => /The record of finished task D was edited by hand, and orch has no copy of what it wrote to restore/.test(runLog(root)));
  const after = record(root, 'D');
  t.match(after, { state: 'DONE', rev: done.rev + 1, steps: [{ goal: 'edited by hand' }] });
  t.equal(checkSeal(after).kind, 'intact', 'sealed: the next start does not judge it again');
  t.equal(rejectedCopies(root, 'D').length, 1, 'the edit as found is kept aside too');
});

t.test('a finished record\'s state edited by hand, with no copy in the archive: the seal gives the record back', async t => {
  const { root, log, done } = await finishedProject(t);
  rmSync(archiveFile(root, 'D'));
  await watchFinished(t, root, log);
  writeFileSync(recordFile(root, 'D'), JSON.stringify({ ...done, state: 'FAILED' }, null, 2));
  await until('the run log to say so', () => /Hand edit of the record of task D refused/.test(runLog(root)));
  t.match(record(root, 'D'), { state: 'DONE', rev: done.rev + 1 });
  t.equal(rejectedCopies(root, 'D').length, 1);
});

t.test('a finished record read at start and torn: restored from the archive', async t => {
  const { root, log, done } = await finishedProject(t);
  await watchFinished(t, root, log);
  writeFileSync(recordFile(root, 'D'), readFileSync(recordFile(root, 'D'), 'utf8').slice(0, 80));
  await until('the run log to say so', () => /Hand edit of the record of task D refused/.test(runLog(root)));
  t.match(record(root, 'D'), { state: 'DONE', rev: done.rev + 1, history: done.history });
  t.equal(rejectedCopies(root, 'D').length, 1, 'the torn bytes are kept aside');
});

t.test('a finished record read at start and deleted: restored from the archive; with no copy, its spec runs again as a new task', async t => {
  t.test('with the copy', async t => {
    const { root, log, done } = await finishedProject(t);
    await watchFinished(t, root, log);
    rmSync(recordFile(root, 'D'));
    const back = await untilRecord(root, 'D', 'to be written back', r => r.rev > done.rev);
    t.match(back, { state: 'DONE', generation: 1, history: done.history });
    await until('the run log to say so', () => /The record of task D was deleted or moved away: restored/.test(runLog(root)));
  });
  t.test('without it', async t => {
    const { root, log } = await finishedProject(t);
    rmSync(archiveFile(root, 'D'));
    await watchFinished(t, root, log);
    rmSync(recordFile(root, 'D'));
    await until('the run log to say so', () => /The record of finished task D was deleted or moved away, and orch has no copy of it to restore/.test(runLog(root)));
    const again = await untilRecord(root, 'D', 'to run again and be DONE', r => r.state === 'DONE');
    t.equal(again.history.length, 2, 'a new task: its own history only');
    t.equal(goalRuns(log, 'D').length, 2);
  });
});

t.test('a finished record edited beyond its state while no orchestrator ran: doctor names the archive, the next start restores the record from it', async t => {
  const { root, log, done } = await finishedProject(t);
  writeFileSync(recordFile(root, 'D'), JSON.stringify({ ...done, cost: { ...done.cost, usd: 999 } }, null, 2));
  const report = await doctorProject(statePaths(root));
  t.match(report.problems, [{ kind: 'hand_edit', severity: 'error', task: 'D', message: /its record as orch wrote it is in the archive/, action: /restored from the archive/ }]);
  const run = await runOnce(root, { env: { ...process.env, GOAL_LOG: log } });
  t.match(record(root, 'D'), { state: 'DONE', rev: done.rev + 1, cost: { usd: done.cost.usd } });
  t.equal(rejectedCopies(root, 'D').length, 1, 'the edit is kept aside');
  t.match(readFileSync(run.runLogPath, 'utf8'), /Hand edit of the record of task D refused/);
  t.ok((await doctorProject(statePaths(root))).healthy);
});

t.test('orch clean removes the copy of a record that is gone; --clean-state the whole archive', async t => {
  const { root } = await finishedProject(t);
  const paths = statePaths(root);
  t.notMatch((await planClean(paths)).remove, [{ path: archiveFile(root, 'D') }], 'kept while its record is there');
  rmSync(recordFile(root, 'D'));
  await applyClean(await planClean(paths));
  t.notOk(existsSync(archiveFile(root, 'D')));
  dropSpec(root, 'E', { goal: 'again' });
  await runOnce(root, { env: { ...process.env, GOAL_LOG: join(root, 'goals.log') } });
  const cleanState = (await planCleanState(paths)).map(item => item.path);
  t.ok(cleanState.includes(archiveFile(root, 'E')), 'the archive is listed by --clean-state');
  t.ok(cleanState.includes(indexFile(root)), 'and the record index');
  t.ok(recordOf(root, 'E'));
});


t.test('the record index: a start takes a finished record whose file is unchanged from it, unread; a changed file is read', async t => {
  const { root, log, done } = await finishedProject(t);
  const env = { ...process.env, GOAL_LOG: log };
  t.match(readIndex(root).records['D.json'], [String, 'DONE', done.rev, 1, done.spec_hash, done.state_since, done.cost.usd, done.seal, null], 'the first run left it');
  // The entry is trusted while the file's signature holds: one that lies shows, so it was used.
  writeFileSync(indexFile(root), readFileSync(indexFile(root), 'utf8').replace('"DONE"', '"FAILED"'));
  t.same((await runOnce(root, { env })).failed, ['D'], 'the index stood for the file');
  // The same bytes written again: a new signature, so the file is read, and the index made again
  // (from a file older than the racy rule's RACY_MS: a read of a file just written is not kept).
  writeFileSync(recordFile(root, 'D'), readFileSync(recordFile(root, 'D')));
  settle(recordFile(root, 'D'));
  t.same((await runOnce(root, { env })).done, ['D'], 'the file was read');
  t.equal(readIndex(root).records['D.json']?.[1], 'DONE');
  t.equal(goalRuns(log, 'D').length, 1, 'nothing ran again');
});

t.test('the record index: a run that changed nothing leaves it as it was; one that is broken or of other schemas is ignored and written again', async t => {
  const { root, log } = await finishedProject(t);
  const env = { ...process.env, GOAL_LOG: log };
  const first = readFileSync(indexFile(root), 'utf8');
  await runOnce(root, { env });
  t.equal(readFileSync(indexFile(root), 'utf8'), first, 'not written again');
  settle(recordFile(root, 'D')); // read by the runs below: a file just written is not kept in an index
  for (const broken of ['{"version": 1, "rev": ', JSON.stringify({ ...readIndex(root), schemas: 'another-build' }), JSON.stringify({ ...readIndex(root), version: 99 })]) {
    writeFileSync(indexFile(root), broken);
    t.same((await runOnce(root, { env })).done, ['D']);
    t.equal(readIndex(root).records['D.json']?.[1], 'DONE', 'written again');
  }
  t.equal(goalRuns(log, 'D').length, 1, 'nothing ran again');
});

t.test('the record index: a record edited while no orchestrator ran is judged, its index entry notwithstanding', async t => {
  const { root, log, done } = await finishedProject(t);
  t.ok(readIndex(root).records['D.json']);
  writeFileSync(recordFile(root, 'D'), JSON.stringify({ ...done, cost: { ...done.cost, usd: 999 } }, null, 2));
  await runOnce(root, { env: { ...process.env, GOAL_LOG: log } });
  t.match(record(root, 'D'), { rev: done.rev + 1, cost: { usd: done.cost.usd } }, 'refused and restored from the archive');
  t.equal(rejectedCopies(root, 'D').length, 1);
});

/** A finished project whose specs the index holds: each spec file settled, then a run that reads and indexes it. */
async function indexedSpecs(t: Test): Promise<{ root: string; log: string; done: TaskRecord; env: NodeJS.ProcessEnv }> {
  const project = await finishedProject(t);
  const env = { ...process.env, GOAL_LOG: project.log };
  settle(specPath(project.root, 'D')); // a file read within the racy rule's RACY_MS of its change is not kept in an index
  await runOnce(project.root, { env });
  return { ...project, env };
}

t.test('the record index holds the specs: a start compares an unchanged spec from it, unread', async t => {
  const { root, done, env, log } = await indexedSpecs(t);
  t.same(readIndex(root).specs?.['D.json'], [readIndex(root).specs?.['D.json']?.[0], null, done.spec_hash, null], 'its id (the file name\'s), hash, no dependencies');
  // Any read of the spec file fails: a start that read it would report it as a file that does not load.
  injectFault('read.open', { path: /tasks\/D\.json$/ });
  t.teardown(clearFaults);
  await runOnce(root, { env });
  t.ok(faultArmed('read.open'), 'the spec was not read');
  t.notMatch(runLog(root), /EIO/, 'and nothing was reported');
  t.equal(goalRuns(log, 'D').length, 1, 'nothing ran again');
});

t.test('a spec taken from the index is read when its task needs it: its record deleted, it runs as a new task', async t => {
  const { root, log, env } = await indexedSpecs(t);
  rmSync(recordFile(root, 'D'));
  rmSync(archiveFile(root, 'D'));
  // The first read of it fails: the task is created by a later pass, which reads the spec again.
  injectFault('read.open', { path: /tasks\/D\.json$/ });
  t.teardown(clearFaults);
  const third = await runOnce(root, { env });
  t.notOk(faultArmed('read.open'), 'the spec was read');
  t.same(third.done, ['D']);
  t.same(goalRuns(log, 'D').map(run => run.goal), ['first', 'first'], 'run again, from the spec as read');
  t.match(record(root, 'D'), { generation: 1, state: 'DONE' });
});

t.test('a spec taken from the index is read again when changed: its task runs as generation 2', async t => {
  const { root, log, env } = await indexedSpecs(t);
  writeFileSync(specPath(root, 'D'), JSON.stringify({ goal: 'second' }));
  t.same((await runOnce(root, { env })).done, ['D']);
  t.same(goalRuns(log, 'D').map(run => run.goal), ['first', 'second']);
  t.match(record(root, 'D'), { generation: 2 });
});

t.test("the specs' dependencies from the index: a cycle among specs not read is still found", async t => {
  const { root, env } = await indexedSpecs(t);
  writeFileSync(specPath(root, 'A'), JSON.stringify({ goal: 'a', depends_on: ['B'] }));
  writeFileSync(specPath(root, 'B'), JSON.stringify({ goal: 'b', depends_on: ['A'] }));
  settle(specPath(root, 'A'));
  settle(specPath(root, 'B'));
  await runOnce(root, { env });
  t.match(readIndex(root).specs, { 'A.json': [String, null, String, ['B']], 'B.json': [String, null, String, ['A']] });
  const cycles = (): number => runLog(root).match(/depend on each other in a cycle/g)?.length ?? 0;
  const before = cycles();
  injectFault('read.open', { path: /tasks\/[AB]\.json$/ });
  t.teardown(clearFaults);
  await runOnce(root, { env });
  t.ok(faultArmed('read.open'), 'neither spec was read');
  t.equal(cycles(), before + 1, 'the cycle was reported again');
});
