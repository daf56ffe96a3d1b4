import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attempt, ProcessIdentity, SessionRecord, TaskRecord } from '../../src/generated/types.js';
import { checkProject, doctorProject, groupAlive, type DoctorProblem } from '../../src/project/doctor.js';
import { listGroupMembers } from '../../src/runner/process-group.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { TEMP_DIR_NAME } from '../../src/store/durable-write.js';
import { statePaths } from '../../src/store/paths.js';
import { identityOf, selfIdentity } from '../../src/store/process-identity.js';
import { acquireSession } from '../../src/store/session.js';
import { systemClock } from '../../src/clock.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';
import { isAlive } from '../fixtures/wait-for.js';
import { asWrittenByOrch } from '../fixtures/sealed.js';

const AGENT_SLEEP = fileURLToPath(new URL('../fixtures/agent-sleep.mjs', import.meta.url));
/** Above the kernel's pid_max: no process ever has it. */
const DEAD_PID = 999_999_999;

const recordFile = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const readRecord = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(recordFile(root, id), 'utf8'));
const kinds = (problems: DoctorProblem[]): string[] => problems.map(p => p.kind).sort();

async function waitFor(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

/** Two tasks parked in AWAITING_HUMAN by a finished run: a healthy state dir. */
async function parkedProject(dir: string): Promise<string> {
  const root = makeProject(dir, {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { base_delay_s: 0.01, max_delay_s: 0.02, jitter: 0 }, on_exhausted: 'human' },
    tasks: { W1: { goal: 'fails', env: script({ implement: ['fail'] }) }, W2: { goal: 'fails too', env: script({ implement: ['fail'] }) } },
  });
  await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  return root;
}

/** A sleeping process leading its own group, as a phase command would be; killed at teardown. */
async function startOrphan(t: Test): Promise<ProcessIdentity> {
  const child = spawn(process.execPath, [AGENT_SLEEP], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
  const pid = child.pid ?? 0;
  t.teardown(() => {
    for (const member of listGroupMembers(pid)) {
      try {
        process.kill(member.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const identity = identityOf(pid);
  if (identity === undefined) throw new Error('the orphan is not in /proc');
  return { ...identity, pgid: pid };
}

/** Writes an attempt with no end, run by `process`, into the record (as a killed orchestrator leaves it). */
function plantOpenAttempt(root: string, id: string, process: ProcessIdentity): void {
  const record = readRecord(root, id);
  const attempt: Attempt = { n: record.attempts.length + 1, phase: 'implement', started_at: new Date().toISOString(), run_id: 'dead-run', artifacts_dir: 'runs/dead-run/x', process };
  writeFileSync(recordFile(root, id), JSON.stringify(asWrittenByOrch({ ...record, attempts: [...record.attempts, attempt] }), null, 2));
}

t.test('a state dir left by a clean run is healthy', async t => {
  const root = await parkedProject(t.testdir());
  const report = await checkProject(statePaths(root));
  t.same(report.problems, []);
  t.equal(report.healthy, true);
});

t.test('every kind of problem is found with its path; --fix repairs the safe ones and stops the orphaned group', async t => {
  const root = await parkedProject(t.testdir());
  const paths = statePaths(root);
  const deadTemp = join(paths.records, TEMP_DIR_NAME, `W1.json.${DEAD_PID}-1.3.tmp`);
  const me = selfIdentity();
  const liveTemp = join(paths.records, TEMP_DIR_NAME, `W2.json.${me.pid}-${me.start_time}.9.tmp`);
  mkdirSync(join(paths.records, TEMP_DIR_NAME), { recursive: true });
  writeFileSync(deadTemp, '{"half":');
  writeFileSync(liveTemp, '{"being written":');
  const staleLock = join(paths.records, 'W1.json.lock');
  mkdirSync(staleLock);
  const past = new Date(Date.now() - 60_000);
  utimesSync(staleLock, past, past);
  const freshLock = join(paths.workers, 'w1.json.lock');
  mkdirSync(freshLock);
  rmSync(join(paths.tasks, 'W2.json'));
  const orphan = await startOrphan(t);
  plantOpenAttempt(root, 'W1', orphan);

  const found = await checkProject(paths);
  t.same(kinds(found.problems), ['open_attempt', 'orphan_process', 'record_without_spec', 'stale_lock', 'temp_file']);
  const byKind = (kind: string): DoctorProblem | undefined => found.problems.find(p => p.kind === kind);
  t.match(byKind('temp_file'), { path: deadTemp, fixable: true, fixed: false, message: new RegExp(`pid ${DEAD_PID} \\(dead\\)`) });
  t.match(byKind('stale_lock'), { path: staleLock, fixable: true });
  t.match(byKind('record_without_spec'), { path: recordFile(root, 'W2'), task: 'W2', fixable: false, message: /AWAITING_HUMAN/ });
  t.match(byKind('open_attempt'), { path: recordFile(root, 'W1'), task: 'W1', fixable: false, action: /orch --resume/ });
  t.match(byKind('orphan_process'), { path: recordFile(root, 'W1'), task: 'W1', fixable: true, process: { pid: orphan.pid, pgid: orphan.pgid } });
  t.equal(found.healthy, false);
  t.ok(existsSync(deadTemp) && existsSync(staleLock) && groupAlive(orphan), 'checking touches nothing');

  const fixed = await doctorProject(paths, { fix: true, killGraceMs: 2000 });
  t.same(fixed.problems.filter(p => p.fixed).map(p => p.kind).sort(), ['orphan_process', 'stale_lock', 'temp_file']);
  t.notOk(existsSync(deadTemp), 'the dead writer\'s temp file is gone');
  t.ok(existsSync(liveTemp), 'a live writer\'s fresh temp file stays');
  t.notOk(existsSync(staleLock), 'the stale lock is gone');
  t.ok(existsSync(freshLock), 'a fresh lock stays');
  await waitFor('the orphaned group to be gone', () => !groupAlive(orphan));
  t.equal(fixed.healthy, false, 'a record without spec and an open attempt remain');

  const after = await checkProject(paths);
  t.same(kinds(after.problems), ['open_attempt', 'record_without_spec']);
});

const LOCK_HOLD = fileURLToPath(new URL('../fixtures/lock-hold.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HOUR_MS = 3_600_000;

t.test('a live holder\'s lock is never stale to doctor, whatever the clock says: not reported, not removed by --fix', async t => {
  const root = await parkedProject(t.testdir());
  const paths = statePaths(root);
  const file = recordFile(root, 'W1');
  const lockDir = `${file}.lock`;
  // A writer in another process holding the record's lock, as a live orchestrator does mid-write.
  const holder = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', LOCK_HOLD, file], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await new Promise<void>(resolve => holder.stdout.once('data', () => resolve()));
  const before = statSync(lockDir).ino;

  // doctor's clock an hour ahead: the lock's mtime looks an hour old.
  const skewed = { now: () => Date.now() + HOUR_MS, sleep: systemClock.sleep };
  const found = await checkProject(paths, { clock: skewed });
  t.same(found.problems.filter(p => p.kind === 'stale_lock'), [], 'not reported');
  await doctorProject(paths, { fix: true, clock: skewed });
  t.equal(statSync(lockDir).ino, before, 'the same lock dir is still there after --fix');

  // The same through the CLI, the mtime an hour behind (the clock set forward since the last refresh).
  const past = new Date(Date.now() - HOUR_MS);
  utimesSync(lockDir, past, past);
  const out = await runCli(['doctor', '--fix', '--json'], { cwd: root });
  t.notMatch(out.stdout, /stale_lock/, 'orch doctor --fix leaves it alone');
  t.equal(statSync(lockDir).ino, before, 'the live holder keeps its lock');
  t.ok(isAlive(holder.pid ?? 0), 'the holder still runs');

  // Once the holder is dead, its lock is abandoned at once (the proof), whatever its mtime.
  holder.kill('SIGKILL');
  await new Promise(resolve => holder.once('exit', resolve));
  const now = new Date();
  utimesSync(lockDir, now, now);
  const dead = await checkProject(paths);
  t.match(dead.problems.filter(p => p.kind === 'stale_lock'), [{ path: lockDir, message: /holder \(pid \d+\) is dead/ }]);
  await doctorProject(paths, { fix: true });
  t.notOk(existsSync(lockDir), 'removed by --fix');
});

t.test('a session whose process is dead is reported; while a live session holds the dir, open attempts are its own', async t => {
  const root = await parkedProject(t.testdir());
  const paths = statePaths(root);
  const session = JSON.parse(readFileSync(paths.session, 'utf8')) as SessionRecord;
  writeFileSync(paths.session, JSON.stringify({ ...session, status: 'running', owner: { ...session.owner, pid: DEAD_PID } }, null, 2));
  const orphan = await startOrphan(t);
  plantOpenAttempt(root, 'W1', orphan);
  const dead = await checkProject(paths);
  t.same(kinds(dead.problems), ['dead_session', 'open_attempt', 'orphan_process']);
  t.match(dead.problems.find(p => p.kind === 'dead_session'), { path: paths.session, message: new RegExp(`pid ${DEAD_PID} .*is gone`), action: /orch --resume/ });

  const live = await acquireSession(paths);
  t.teardown(() => live.release());
  const held = await checkProject(paths);
  t.same(held.problems, [], 'a live orchestrator owns its attempts and processes');
  t.match(held.holder, `pid ${process.pid}`);
});

t.test('invalid files are reported one problem each, with the JSON path; config warnings do not make the dir unhealthy', async t => {
  const root = await parkedProject(t.testdir());
  const paths = statePaths(root);
  writeFileSync(join(paths.tasks, 'bad.json'), JSON.stringify({ goal: 'x', priority: 'high' }));
  writeFileSync(join(paths.tasks, 'broken.json'), '{\n  "goal": "x",\n}\n');
  const report = await checkProject(paths);
  t.same(kinds(report.problems), ['invalid_file', 'invalid_file']);
  t.match(report.problems.find(p => p.path.endsWith('bad.json')), { details: { code: 'ORCH_SCHEMA_INVALID', pointer: '/priority' }, message: /^\/priority: / });
  t.match(report.problems.find(p => p.path.endsWith('broken.json')), { details: { code: 'ORCH_INVALID_JSON', line: 3 } });

  rmSync(join(paths.tasks, 'bad.json'));
  rmSync(join(paths.tasks, 'broken.json'));
  const config = JSON.parse(readFileSync(paths.config, 'utf8'));
  config.workflows.default.implement.command = ['no-such-command-anywhere'];
  writeFileSync(paths.config, JSON.stringify(config));
  const warned = await checkProject(paths);
  t.same(kinds(warned.problems), ['config_warning']);
  t.equal(warned.healthy, true);
});
