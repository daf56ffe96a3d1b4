// Run log appends are fenced like record writes (PRODUCT.md §2, §7, §9): once another orchestrator
// has taken the state dir over (session.json names a newer epoch), the old one's appends are refused
// and not echoed, so a stalled orchestrator that wakes cannot tell its old view after the new one's.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../../src/generated/types.js';
import { RunLog } from '../../src/runlog/run-log.js';
import { updateDocument } from '../../src/store/fenced-update.js';
import { statePaths } from '../../src/store/paths.js';
import { acquireSession } from '../../src/store/session.js';
import { startOrchestrator } from '../../src/runtime/orchestrator.js';
import { goalProject } from '../fixtures/watch-helpers.js';

t.jobs = 1;

function textOf(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** What a takeover writes: session.json at the next epoch, another owner's (under the file's lock). */
async function takeOver(sessionPath: string, epoch: number): Promise<void> {
  await updateDocument(
    'session',
    sessionPath,
    current => {
      if (current === undefined) throw new Error('no session to take over');
      return { ...current, run_id: 'taker', owner: { ...current.owner, host: 'taker-host', run_id: 'taker' }, status: 'running' };
    },
    { fence: { epoch: epoch + 1 } },
  );
}

t.test('once session.json names a newer epoch, the fenced run log refuses every append, writes nothing and echoes nothing', async t => {
  const paths = statePaths(t.testdir());
  const session = await acquireSession(paths);
  const echoed: RunEvent[] = [];
  const log = new RunLog({ runLogPath: paths.runLog, eventsPath: paths.events, runId: session.runId, fence: session.fence(), onEntry: event => echoed.push(event) });
  await log.startRun([]);
  await log.entry({ category: 'task', level: 'info', message: 'before the takeover', task_id: 'T003', record_rev: 1 });
  t.equal(echoed.length, 1, 'an entry before the takeover is written and echoed');

  await takeOver(paths.session, session.epoch);
  await t.rejects(log.entry({ category: 'task', level: 'info', message: 'after the takeover', task_id: 'T003', record_rev: 1 }), { code: 'ORCH_EPOCH_FENCED' });
  await t.rejects(log.entry({ category: 'task', level: 'info', message: 'and again' }), { code: 'ORCH_EPOCH_FENCED' }, 'still refused');
  await t.rejects(log.endRun({ costUsd: 0, completed: 0, failed: 0, needingReview: 0 }), { code: 'ORCH_EPOCH_FENCED' }, 'the summary too');
  t.same(echoed.map(e => e.message), ['before the takeover'], 'a refused entry is not echoed');
  t.notMatch(textOf(paths.runLog), /after the takeover|and again|Run Summary/);
  const events = textOf(paths.events).trim().split('\n').map(line => JSON.parse(line) as RunEvent);
  t.same(events.map(e => e.message), ['before the takeover']);
});

t.test('a run log with no fence (tools, tests) appends whatever session.json says', async t => {
  const paths = statePaths(t.testdir());
  const session = await acquireSession(paths);
  const log = new RunLog({ runLogPath: paths.runLog, eventsPath: paths.events, runId: 'tool' });
  await takeOver(paths.session, session.epoch);
  await log.entry({ category: 'task', level: 'info', message: 'unfenced' });
  t.match(textOf(paths.events), /unfenced/);
});

t.test("an orchestrator's run log is fenced by its session: after a takeover its next entry is refused", async t => {
  const { root } = goalProject(t);
  const echoed: RunEvent[] = [];
  const orch = await startOrchestrator(root, { stayAlive: true, watched: true, onLogEntry: event => echoed.push(event) });
  const ended = orch.done.catch((error: unknown) => error);
  t.teardown(async () => {
    orch.stop('test over');
    await ended;
  });
  await orch.runLog.entry({ category: 'task', level: 'info', message: 'ours, before the takeover' });
  await takeOver(orch.session.path, orch.session.epoch);
  await t.rejects(orch.runLog.entry({ category: 'task', level: 'info', message: 'ours, after the takeover' }), { code: 'ORCH_EPOCH_FENCED' });
  orch.stop('test over');
  await ended;
  const log = textOf(join(orch.paths.runLog));
  t.match(log, /ours, before the takeover/);
  t.notMatch(log, /ours, after the takeover/);
  t.notMatch(log, /### Run Summary/, 'the taken-over run closes no section: the state dir is no longer its');
  t.notMatch(textOf(orch.paths.events), /ours, after the takeover/);
  t.notOk(echoed.some(e => e.message === 'ours, after the takeover'), 'not echoed');
});
