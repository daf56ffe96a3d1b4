// Hardening 12-14: what a run says of itself at its end (the run log's last lines, summary.json), and
// the session and worker files saying what the schemas promise. Real files, real processes.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummaryFile, SessionRecord, WorkerRecord } from '../../src/generated/types.js';
import { runOnce, startOrchestrator } from '../../src/runtime/orchestrator.js';
import { loadDocument } from '../../src/store/load.js';
import { checkRunLog } from '../fixtures/run-log-checker.js';
import { makeProject, script, STUB_AGENT, writeTask } from '../fixtures/project.js';
import { waitFor } from '../fixtures/wait-for.js';

t.jobs = 1;

const implementOnly = {
  implement: { command: [process.execPath, STUB_AGENT] as [string, ...string[]] },
  retry: { max_attempts: 1, base_delay_s: 0.01, jitter: 0 },
};
/** A task that fails for good on its first attempt (the stub's non-retryable "invalid API key"). */
const failing = { goal: 'f', env: script({ implement: ['fatal'] }) };

/** The run sections of a run log, each from its `## Run:` line. */
function sections(log: string): string[] {
  return log.split(/\n(?=## Run: )/).filter(section => section.startsWith('## Run: '));
}

/** A summary field's value in one run section. */
function field(section: string, name: string): string | undefined {
  return new RegExp(`\\*\\*${name}\\*\\*: (.*)\\n`).exec(section)?.[1];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

t.test("the run log names the tasks each run touched, and its summary counts that run's work, not the whole state dir's", async t => {
  const root = makeProject(t.testdir(), { workflow: implementOnly, config: { workers: 1 }, tasks: { A: { goal: 'a' }, F: failing } });
  await runOnce(root);
  await runOnce(root); // nothing to do: everything is finished
  writeTask(root, 'C', { goal: 'c' });
  await runOnce(root);

  const log = readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8');
  t.same(checkRunLog(log).problems, [], 'the log still follows PRODUCT.md §9 line by line');
  const [first, idle, third] = sections(log);
  t.ok(first !== undefined && idle !== undefined && third !== undefined, 'three run sections');
  if (first === undefined || idle === undefined || third === undefined) return;

  t.equal(field(first, 'Tasks'), 'none carried over (the tasks this run touches are listed at its end)', 'a first run carries nothing over');
  t.notMatch(log, /none yet/);
  t.match(first, /- `\d{2}:\d{2}:\d{2}` ℹ️ {2}\*\*task\*\*: Tasks this run touched \(2\): A, F\n\n### Run Summary\n/, 'the last entry lists what the run touched');
  t.same([field(first, 'Total Cost'), field(first, 'Tasks Completed'), field(first, 'Tasks Failed'), field(first, 'Tasks Needing Review')], ['$0.01', '1', '1', '0']);

  t.match(idle, /\*\*task\*\*: Tasks this run touched: none\n/, 'a run that did nothing touched nothing');
  t.same([field(idle, 'Total Cost'), field(idle, 'Tasks Completed'), field(idle, 'Tasks Failed'), field(idle, 'Tasks Needing Review')], ['$0.00', '0', '0', '0'], 'and counts nothing of the runs before it');

  t.match(third, /\*\*task\*\*: Tasks this run touched \(1\): C\n/);
  t.same([field(third, 'Total Cost'), field(third, 'Tasks Completed'), field(third, 'Tasks Failed')], ['$0.01', '1', '0']);
});

t.test('a run names in its header the unfinished tasks it carries over, and counts a wait for a human only when it caused it', async t => {
  const root = makeProject(t.testdir(), { workflow: { ...implementOnly, human_gate: ['implement'] }, tasks: { G: { goal: 'g' } } });
  await runOnce(root); // G stops at the gate: AWAITING_HUMAN
  await runOnce(root);
  const [first, second] = sections(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'));
  t.equal(field(first ?? '', 'Tasks Needing Review'), '1', 'the run that parked G counts it');
  t.equal(field(second ?? '', 'Tasks'), 'G carried over (the tasks this run touches are listed at its end)');
  t.match(second, /Tasks this run touched: none\n/, 'waiting at the gate is no work of the second run');
  t.equal(field(second ?? '', 'Tasks Needing Review'), '0');
});

t.test('every run ends by writing runs/<run-id>/summary.json, valid against schemas/run-summary.schema.json', async t => {
  const root = makeProject(t.testdir(), { workflow: implementOnly, config: { workers: 1 }, tasks: { A: { goal: 'a' }, F: failing } });
  const stateDir = join(root, '.isollm');
  const result = await runOnce(root);
  const file = join(stateDir, 'runs', result.runId, 'summary.json');
  t.equal(result.summaryFile, file, 'the result names it');
  const { doc } = await loadDocument('summary', file); // the schema check of the store's reader
  t.match(doc, {
    $schema: '../../schemas/run-summary.schema.json',
    version: 1,
    rev: 1,
    run_id: result.runId,
    exit_reason: 'idle',
    previous_run_died: false,
    counts: { touched: 2, completed: 1, failed: 1, needing_review: 0, cancelled: 0, attempts: 2 },
    cost: { usd: 0.01, tokens: 150 },
  });
  t.ok(Date.parse(doc.started_at) <= Date.parse(doc.ended_at) && doc.duration_s >= 0, 'start, end and duration');
  t.match(doc.tasks, [
    { id: 'A', state: 'DONE', generation: 1, cost_usd: 0.01, attempts: [{ n: 1, phase: 'implement', reason: 'succeeded', exit_code: 0, artifacts_dir: /^runs\/.+\/A\/001-implement-S1$/ }] },
    { id: 'F', state: 'FAILED', last_error: /invalid API key/, attempts: [{ n: 1, reason: 'failed', exit_code: 1 }] },
  ]);
  for (const task of doc.tasks) {
    for (const attempt of task.attempts) t.ok(existsSync(join(stateDir, attempt.artifacts_dir, 'stdout.log')), `${attempt.artifacts_dir} holds the attempt's output`);
  }

  const idle = await runOnce(root);
  const nothing = readJson<RunSummaryFile>(join(stateDir, 'runs', idle.runId, 'summary.json'));
  t.match(nothing, { exit_reason: 'idle', counts: { touched: 0, completed: 0, failed: 0, attempts: 0 }, cost: { usd: 0, tokens: 0 }, tasks: [] }, 'a run that did nothing says so');
});

t.test('a stopped watch run says why it ended, in summary.json', async t => {
  const root = makeProject(t.testdir(), { tasks: { S: { goal: 's' } }, workflow: { implement: { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] } } });
  const orchestrator = await startOrchestrator(root, { stayAlive: true });
  await waitFor('S to run', () => readJson<{ attempts: { process?: unknown }[] }>(join(root, '.isollm/state/tasks/S.json')).attempts.at(-1)?.process !== undefined);
  orchestrator.stop('SIGTERM');
  const result = await orchestrator.done;
  t.match(readJson<RunSummaryFile>(result.summaryFile ?? ''), {
    exit_reason: 'stopped',
    exit_detail: 'SIGTERM',
    tasks: [{ id: 'S', state: 'IMPLEMENTING', attempts: [{ reason: 'interrupted' }] }], // carried on by the next run
  });
});

t.test('session.json says starting until the run has recovered, running while it works, stopping while it ends, then stopped', async t => {
  const root = makeProject(t.testdir(), { tasks: { S: { goal: 's' } }, workflow: { implement: { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] } } });
  const sessionFile = join(root, '.isollm/state/session.json');
  const session = (): SessionRecord => readJson<SessionRecord>(sessionFile);
  const orchestrator = await startOrchestrator(root, { stayAlive: true, leaseMs: 3000 });
  t.teardown(() => orchestrator.stop('teardown'));
  t.equal(session().status, 'starting', 'taken, not yet recovered');
  await waitFor('the session to run', () => session().status === 'running');
  await waitFor('S to run', () => readJson<{ attempts: { process?: unknown }[] }>(join(root, '.isollm/state/tasks/S.json')).attempts.at(-1)?.process !== undefined);
  orchestrator.stop('SIGTERM', 'finish'); // S runs on: the run is stopping until it ends
  const stopping = await waitFor('the session to say stopping', () => (session().status === 'stopping' ? session() : undefined));
  await waitFor('a heartbeat after it', () => session().heartbeat_at !== stopping.heartbeat_at, 5000);
  t.equal(session().status, 'stopping', 'the heartbeat does not take it back to running');
  orchestrator.stop('SIGTERM');
  await orchestrator.done;
  t.equal(session().status, 'stopped');
});

t.test("worker files carry started_at, and a failed command's error as the slot's last_error", async t => {
  const root = makeProject(t.testdir(), { workflow: implementOnly, config: { workers: 1 }, tasks: { F: failing } });
  const before = Date.now();
  await runOnce(root);
  const worker = readJson<WorkerRecord>(join(root, '.isollm/state/workers/w1.json'));
  t.match(worker, { name: 'w1', status: 'stopped', last_error: /^F implement attempt 1: .*invalid API key/, last_error_at: String });
  t.ok(worker.started_at !== undefined && Date.parse(worker.started_at) >= before - 1000, `started_at ${worker.started_at}`);
});

t.test('the worker schema names only the statuses orch writes', async t => {
  const schema = readJson<{ properties: { status: { enum: string[] } } }>(join(import.meta.dirname, '../../schemas/worker.schema.json'));
  t.same(schema.properties.status.enum, ['idle', 'busy', 'stopped', 'error']);
});
