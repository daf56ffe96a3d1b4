import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Clock } from '../../src/clock.js';
import type { Owner, SessionRecord } from '../../src/generated/types.js';
import { updateDocument } from '../../src/store/fenced-update.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { identityOf, selfIdentity } from '../../src/store/process-identity.js';
import { acquireSession, describeHolder, judgeHolder, laterStatus, newRunId, readSession, SESSION_LEASE_MS } from '../../src/store/session.js';
import { TEMP_DIR_NAME } from '../../src/store/durable-write.js';
import { CRASH_ENV } from '../../src/testing/crash-points.js';
import { lineReader } from '../fixtures/child-lines.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SLEEP = join(ROOT, 'test/fixtures/session-sleep.mjs');
const ACQUIRE = join(ROOT, 'test/fixtures/session-acquire.mjs');

function setup(t: Test): StatePaths {
  return statePaths(t.testdir());
}

/** Writes session.json as another orchestrator would have left it. */
function plantSession(paths: StatePaths, owner: Owner, fields: Partial<SessionRecord> = {}): SessionRecord {
  const at = new Date().toISOString();
  const record: SessionRecord = {
    version: 1,
    rev: 3,
    epoch: 4,
    run_id: 'old-run',
    status: 'running',
    owner,
    started_at: at,
    heartbeat_at: at,
    lease_expires_at: new Date(Date.now() + SESSION_LEASE_MS).toISOString(),
    ...fields,
  };
  mkdirSync(paths.machine, { recursive: true });
  writeFileSync(paths.session, `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

function fixedClock(now: number): Clock {
  return { now: () => now, sleep: async () => undefined };
}

interface Child {
  child: ChildProcess;
  line(): Promise<string>;
}

/** Starts a node child, and kills it at the end of the test. Lines of its stdout come from line(). */
function start(t: Test, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, line: lineReader(child, args.at(-1) ?? command) };
}

async function sleeper(t: Test, command: string = process.execPath): Promise<Child> {
  const child = start(t, command, [SLEEP]);
  t.equal(await child.line(), 'ready');
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

function ownerOfPid(pid: number): Owner {
  const identity = identityOf(pid);
  if (identity === undefined) throw new Error(`process ${pid} is not running`);
  return identity;
}

t.test('the first orchestrator creates session.json at epoch 1', async t => {
  const paths = setup(t);
  const session = await acquireSession(paths);
  t.equal(session.epoch, 1);
  t.match(session.runId, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[0-9a-f]{4}$/);
  t.equal(session.previousRecord, undefined);
  const onDisk = JSON.parse(readFileSync(paths.session, 'utf8')) as SessionRecord;
  t.same(onDisk, session.record);
  const me = selfIdentity();
  t.match(onDisk, {
    $schema: '../schemas/session.schema.json',
    version: 1,
    rev: 1,
    epoch: 1,
    status: 'starting',
    run_id: session.runId,
    owner: { pid: me.pid, start_time: me.start_time, boot_id: me.boot_id, host: me.host, run_id: session.runId },
  });
  t.same(session.fence(), { epoch: 1, sessionPath: paths.session });
  t.same(await readSession(paths), onDisk);
  t.equal(await readSession(statePaths(t.testdir())), undefined, 'no session: undefined');
});

t.test('a second orchestrator in the same live process is refused with exit code 3, naming the holder', async t => {
  const paths = setup(t);
  const first = await acquireSession(paths, { runId: 'first-run' });
  const error = await acquireSession(paths).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(error, {
    code: 'ORCH_SESSION_HELD',
    exitCode: 3,
    details: { pid: process.pid, host: hostname(), since: first.record.started_at, run_id: 'first-run', stale: false },
  });
  t.match((error as Error).message, `pid ${process.pid} on ${hostname()} since ${first.record.started_at}`);
  t.equal(describeHolder(first.record), `pid ${process.pid} on ${hostname()} since ${first.record.started_at} (run first-run)`);
  t.equal((await readSession(paths))?.run_id, 'first-run', 'the holder keeps its session');
});

t.test('a released session is marked stopped and the next one gets the next epoch', async t => {
  const paths = setup(t);
  const first = await acquireSession(paths, { runId: 'run-1' });
  t.equal(await first.release(), true);
  t.match(await readSession(paths), { status: 'stopped', epoch: 1, run_id: 'run-1' });
  t.equal(await first.release(), false, 'releasing twice does nothing');
  const second = await acquireSession(paths, { runId: 'run-2' });
  t.equal(second.epoch, 2);
  t.match(second.record, { rev: 3, epoch: 2, status: 'starting', previous: { pid: process.pid, run_id: 'run-1' } });
  t.match(second.previousRecord, { run_id: 'run-1', status: 'stopped' });
});

t.test('a session is created starting and its status only moves on: starting, running, stopping, stopped', async t => {
  const paths = setup(t);
  const session = await acquireSession(paths);
  t.equal(session.record.status, 'starting', 'taken; the run has not recovered yet');
  t.match(await session.heartbeat('running'), { status: 'running' });
  t.match(await session.heartbeat('stopping'), { status: 'stopping' });
  t.match(await session.heartbeat('running'), { status: 'stopping' }, "the periodic heartbeat's running does not undo stopping");
  t.match(await session.heartbeat('starting'), { status: 'stopping' });
  t.equal(await session.release(), true);
  t.match(await readSession(paths), { status: 'stopped' });
  t.same(
    (['starting', 'running', 'stopping', 'stopped'] as const).map(next => laterStatus('running', next)),
    ['running', 'running', 'stopping', 'stopped'],
  );
});

t.test('heartbeat renews the lease; once taken over it is fenced, and release leaves the new owner alone', async t => {
  const paths = setup(t);
  let now = Date.parse('2025-12-10T10:30:00.000Z');
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  const session = await acquireSession(paths, { clock, leaseMs: 1_000 });
  t.equal(session.record.lease_expires_at, '2025-12-10T10:30:01.000Z');
  now += 500;
  const renewed = await session.heartbeat('stopping');
  t.match(renewed, { heartbeat_at: '2025-12-10T10:30:00.500Z', lease_expires_at: '2025-12-10T10:30:01.500Z', status: 'stopping', rev: 2, epoch: 1 });
  t.match(await session.heartbeat(), { status: 'stopping', rev: 3 }, 'status kept when not given');
  // Someone else takes over (as a newer orchestrator would after proving us dead).
  await updateDocument('session', paths.session, current => ({ ...current!, run_id: 'thief', owner: { ...current!.owner, pid: 1 } }), { fence: { epoch: 2 } });
  await t.rejects(session.heartbeat(), { code: 'ORCH_EPOCH_FENCED' });
  await t.rejects(
    updateDocument('worker', join(paths.workers, 'w1.json'), () => ({ name: 'w1', status: 'idle', updated_at: '2025-12-10T10:30:00.000Z' }), { fence: session.fence() }),
    { code: 'ORCH_EPOCH_FENCED' },
    'its record writes are fenced too',
  );
  t.equal(await session.release(), false);
  t.match(await readSession(paths), { run_id: 'thief', epoch: 2, status: 'stopping' });
});

t.test('a session whose process exited is stale and is taken over with the epoch raised by one', async t => {
  const paths = setup(t);
  const gone = await sleeper(t);
  const owner = ownerOfPid(gone.child.pid!);
  gone.child.kill('SIGKILL');
  await exited(gone.child);
  const old = plantSession(paths, owner);
  t.match(judgeHolder(old), { state: 'stale', reason: /is gone/ });
  await t.rejects(acquireSession(paths, { takeOverStale: false }), { code: 'ORCH_SESSION_HELD', details: { stale: true } });
  const session = await acquireSession(paths);
  t.equal(session.epoch, old.epoch + 1);
  t.match(session.record, { rev: old.rev + 1, previous: { ...owner, run_id: 'old-run' } });
  t.same(session.previousRecord, old);
});

t.test('a live process whose start time differs from the recorded one is not the holder', async t => {
  const paths = setup(t);
  const other = await sleeper(t);
  const owner = ownerOfPid(other.child.pid!);
  plantSession(paths, { ...owner, start_time: owner.start_time - 1 });
  const session = await acquireSession(paths);
  t.equal(session.epoch, 5);
});

t.test('a live process that matches the recorded identity holds the session', async t => {
  const paths = setup(t);
  const other = await sleeper(t);
  const owner = ownerOfPid(other.child.pid!);
  const old = plantSession(paths, owner);
  await t.rejects(acquireSession(paths), { code: 'ORCH_SESSION_HELD', details: { pid: owner.pid, run_id: 'old-run', since: old.started_at } });
  t.same(await readSession(paths), old, 'untouched');
});

t.test('a holder whose name holds ") " is judged by its real start time', async t => {
  const paths = setup(t);
  const link = join(t.testdir(), 'o) 7 8 ) r');
  symlinkSync(process.execPath, link);
  const other = await sleeper(t, link);
  const owner = ownerOfPid(other.child.pid!);
  t.equal(readFileSync(`/proc/${owner.pid}/comm`, 'utf8').trim(), 'o) 7 8 ) r');
  plantSession(paths, owner);
  await t.rejects(acquireSession(paths), { code: 'ORCH_SESSION_HELD' });
  other.child.kill('SIGKILL');
  await exited(other.child);
  t.equal((await acquireSession(paths)).epoch, 5, 'taken over once it died');
});

t.test('a session from an earlier boot of this host is stale even if its pid is alive now', async t => {
  const paths = setup(t);
  const old = plantSession(paths, { ...selfIdentity(), boot_id: 'an-earlier-boot' });
  t.match(judgeHolder(old), { state: 'stale', reason: /rebooted/ });
  t.equal((await acquireSession(paths)).epoch, 5);
});

t.test('another host holds until its lease expires by our clock', async t => {
  const paths = setup(t);
  const lease = Date.parse('2025-12-10T10:30:30.000Z');
  plantSession(paths, { pid: 4242, start_time: 1, boot_id: 'their-boot', host: `not-${hostname()}` }, { lease_expires_at: new Date(lease).toISOString() });
  await t.rejects(acquireSession(paths, { clock: fixedClock(lease) }), { code: 'ORCH_SESSION_HELD', details: { pid: 4242, host: `not-${hostname()}` } });
  const session = await acquireSession(paths, { clock: fixedClock(lease + 1) });
  t.equal(session.epoch, 5);
  t.equal(session.record.started_at, '2025-12-10T10:30:30.001Z');
});

t.test('two processes racing for a free state dir: exactly one wins', async t => {
  const paths = setup(t);
  await race(t, paths, 1);
});

t.test('two processes racing to take over a stale session: exactly one wins, at the next epoch', async t => {
  const paths = setup(t);
  const gone = await sleeper(t);
  const owner = ownerOfPid(gone.child.pid!);
  gone.child.kill('SIGKILL');
  await exited(gone.child);
  plantSession(paths, owner);
  await race(t, paths, 5);
});

async function race(t: Test, paths: StatePaths, epoch: number): Promise<void> {
  const racers = [start(t, process.execPath, ['--import', 'tsx', ACQUIRE, paths.root]), start(t, process.execPath, ['--import', 'tsx', ACQUIRE, paths.root])];
  for (const racer of racers) t.equal(await racer.line(), 'ready');
  for (const racer of racers) racer.child.stdin!.write('go\n');
  const results = (await Promise.all(racers.map(async racer => JSON.parse(await racer.line()) as { ok: boolean; epoch?: number; code?: string; runId?: string })));
  const winners = results.filter(r => r.ok);
  const losers = results.filter(r => !r.ok);
  t.equal(winners.length, 1, `one winner: ${JSON.stringify(results)}`);
  t.match(losers, [{ code: 'ORCH_SESSION_HELD' }]);
  t.equal(winners[0]?.epoch, epoch);
  t.match(await readSession(paths), { epoch, run_id: winners[0]?.runId });
  for (const racer of racers) racer.child.stdin!.end();
  await Promise.all(racers.map(racer => exited(racer.child)));
}

t.test('run ids are timestamps with a random suffix', async t => {
  t.match(newRunId(fixedClock(Date.parse('2025-12-10T10:30:00.123Z'))), /^2025-12-10T10-30-00-123Z-[0-9a-f]{4}$/);
});

/** Runs session-acquire.mjs with ORCH_CRASH_AT=create.after-link: killed between link() and unlink(). */
async function crashAfterLink(t: Test, paths: StatePaths): Promise<void> {
  const racer = start(t, process.execPath, ['--import', 'tsx', ACQUIRE, paths.root], { ...process.env, [CRASH_ENV]: 'create.after-link' });
  t.equal(await racer.line(), 'ready');
  racer.child.stdin!.write('go\n');
  await exited(racer.child);
  t.equal(racer.child.signalCode, 'SIGKILL', 'the child died at the crash point');
  t.equal(statSync(paths.session).nlink, 2, 'session.json is left with its temp name as a second link');
}

t.test('killed between link() and unlink() while creating session.json: the next orchestrator starts, at the next epoch', async t => {
  const paths = setup(t);
  await crashAfterLink(t, paths);
  const session = await acquireSession(paths);
  t.equal(session.epoch, 2, 'the dead creator is taken over');
  t.match(session.previousRecord, { epoch: 1, status: 'starting' });
  t.equal(statSync(paths.session).nlink, 1);
  t.same(readdirSync(join(paths.machine, TEMP_DIR_NAME)), [], "the dead creator's temp name is gone");
  t.match(await readSession(paths), { epoch: 2, run_id: session.runId });
});

t.test('readSession drops a dead creator\'s temp link too, so status works before any --resume', async t => {
  const paths = setup(t);
  await crashAfterLink(t, paths);
  t.match(await readSession(paths), { epoch: 1, status: 'starting' });
  t.equal(statSync(paths.session).nlink, 1);
});

t.test('any other hard link to session.json is still refused', async t => {
  const paths = setup(t);
  const first = await acquireSession(paths, { runId: 'run-1' });
  await first.release();
  // A link made by someone else, and one named like a temp file of a live writer (this process).
  const elsewhere = join(paths.root, 'copy.json');
  linkSync(paths.session, elsewhere);
  await t.rejects(acquireSession(paths), { code: 'ORCH_NOT_REGULAR_FILE' }, 'a link outside the temp dir');
  await t.rejects(readSession(paths), { code: 'ORCH_NOT_REGULAR_FILE' });
  const me = selfIdentity();
  const live = join(paths.machine, TEMP_DIR_NAME, `session.json.${me.pid}-${me.start_time}.999.tmp`);
  mkdirSync(join(paths.machine, TEMP_DIR_NAME), { recursive: true });
  linkSync(paths.session, live);
  await t.rejects(acquireSession(paths), { code: 'ORCH_NOT_REGULAR_FILE' }, "a live writer's temp name");
  t.equal(statSync(paths.session).nlink, 3, 'both links kept');
});
