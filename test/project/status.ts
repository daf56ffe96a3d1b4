import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectStatus } from '../../src/project/status.js';
import { compareByActivity, taskRow } from '../../src/project/status-row.js';
import { statePaths } from '../../src/store/paths.js';
import { at, attempt, makeRecord, T0, writeRecords } from '../fixtures/read-records.js';

t.test('a row says what the task does now: running, in backoff, waiting for a human or for dependencies, finished', async t => {
  const now = T0 + 100_000;
  const running = taskRow(makeRecord('R', { state: 'IMPLEMENTING', phase: 'implement', step_index: 0, steps: [{ id: 'S1', state: 'IMPLEMENTING', attempts: 1 }], attempts: [attempt(1, 'implement', { step_id: 'S1', worker: 'w2' })] }), now);
  t.match(running, { activity: 'running', phase: 'implement', step: 'S1', worker: 'w2', attempts: 1, waiting_until: null });
  const backoff = taskRow(makeRecord('B', { state: 'PLANNING', phase: 'plan', next_attempt_at: new Date(now + 5000).toISOString(), last_error: { at: at(5), message: 'rate limited\nmore detail' } }), now);
  t.match(backoff, { activity: 'backoff', waiting_until: new Date(now + 5000).toISOString(), last_error: 'rate limited' });
  const due = taskRow(makeRecord('D', { state: 'PLANNING', phase: 'plan', next_attempt_at: new Date(now - 5000).toISOString() }), now);
  t.match(due, { activity: 'active', waiting_until: null });
  const human = taskRow(makeRecord('H', { state: 'AWAITING_HUMAN', awaiting: { since: at(9), kind: 'budget', reason: 'spent $2.00 of $1.50' } }), now);
  t.match(human, { activity: 'human', waiting_for: 'human (budget): spent $2.00 of $1.50' });
  const blocked = taskRow(makeRecord('N', { spec: { goal: 'n', depends_on: ['D', 'X'] } }), now, new Set(['D']));
  t.match(blocked, { activity: 'queued', waiting_for: 'dependencies: X', title: 'n' });
  const done = taskRow(makeRecord('Z', { state: 'DONE', phase: 'implement', last_error: { at: at(1), message: 'old' } }), now);
  t.match(done, { activity: 'done', phase: null, last_error: null });
  t.same([done, blocked, human, backoff, running, due].sort(compareByActivity).map(r => r.id), ['R', 'D', 'B', 'H', 'N', 'Z']);
});

t.test('collectStatus lists every bad file with a reason, keeps refused edits apart, and counts states', async t => {
  const root = t.testdir({ '.isollm': { tasks: { 'A.json': JSON.stringify({ goal: 'a' }), 'bad.json': '{"goal": 1}' }, inbox: { 'x.json': '{' }, state: { workers: {} } } });
  const paths = statePaths(root);
  writeRecords(paths.stateDir, [makeRecord('A', { state: 'DONE' }), makeRecord('B', { state: 'FAILED' })]);
  writeFileSync(join(paths.records, 'C.json'), JSON.stringify({ ...makeRecord('D'), id: 'D' }));
  writeFileSync(join(paths.records, 'A.rejected-2025-06-01T10-00-00-000Z.json'), '{"edited": true}');
  writeFileSync(join(paths.records, 'E.json'), '{"version": 1}');
  mkdirSync(paths.workers, { recursive: true });
  writeFileSync(paths.session, 'not json');
  const report = await collectStatus(paths, { now: T0 });
  t.same(report.tasks.map(r => `${r.id}:${r.state}`), ['B:FAILED', 'A:DONE']);
  t.match(report.counts, { DONE: 1, FAILED: 1, NEW: 0 });
  t.same(report.invalid.map(f => `${f.kind} ${f.path} ${f.code}`).sort(), [
    'decision .isollm/inbox/x.json ORCH_INVALID_JSON',
    'record .isollm/state/tasks/C.json ORCH_SCHEMA_INVALID',
    'record .isollm/state/tasks/E.json ORCH_SCHEMA_INVALID',
    'session .isollm/state/session.json ORCH_INVALID_JSON',
    'spec .isollm/tasks/bad.json ORCH_SCHEMA_INVALID',
  ]);
  t.match(report.invalid.find(f => f.path.endsWith('C.json')), { reason: /names task "D"/ });
  t.match(report.invalid.find(f => f.path.endsWith('bad.json')), { reason: '/goal: must be string' });
  t.same(report.rejected_edits, ['.isollm/state/tasks/A.rejected-2025-06-01T10-00-00-000Z.json']);
  t.match(report.session, { state: 'unreadable', reason: /session\.json/ });
});

t.test('with no session file the status says no orchestrator has run', async t => {
  const root = t.testdir({ '.isollm': { tasks: {} } });
  const report = await collectStatus(statePaths(root));
  t.match(report.session, { state: 'none', pid: null });
  t.same(report.tasks, []);
  t.same(report.invalid, []);
});

t.test('a session whose process is gone is stale; a stopped one is stopped', async t => {
  const { hostname } = await import('node:os');
  const { bootId } = await import('../../src/store/process-identity.js');
  const root = t.testdir({ '.isollm': { state: {} } });
  const paths = statePaths(root);
  const session = (status: string): string => JSON.stringify({
    version: 1, rev: 3, epoch: 2, run_id: 'run-1', status,
    // pid_max on Linux is at most 4194304: this pid cannot be running.
    owner: { pid: 4194303, start_time: 1, boot_id: bootId(), host: hostname() },
    started_at: at(0), heartbeat_at: at(5), lease_expires_at: at(35),
  });
  writeFileSync(paths.session, session('running'));
  t.match((await collectStatus(paths)).session, { state: 'stale', pid: 4194303, run_id: 'run-1', reason: /gone/ });
  writeFileSync(paths.session, session('stopped'));
  t.match((await collectStatus(paths)).session, { state: 'stopped', status: 'stopped', since: at(0) });
});
