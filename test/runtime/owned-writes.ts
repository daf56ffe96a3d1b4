// The orchestrator writes task records without a lock dir (src/store/owned-file.ts, issue 16): the
// session's epoch keeps other orchestrators out, and a CLI decision that checked the session before a
// new orchestrator took it must land before that orchestrator reads the record. A decision paused
// between its check and its write (test/fixtures/decide-held.mjs) while `orch --resume` starts: the
// resumed run waits for it, takes the cancel as written, and runs nothing of the task again; nothing
// is refused as a hand edit.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lineReader } from '../fixtures/child-lines.js';
import { makeProject, readTaskRecord } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';
import { readSession } from '../../src/store/session.js';
import { statePaths } from '../../src/store/paths.js';
import { ownedByTheSession, waitForWriters } from '../../src/store/owned-file.js';
import { withLock } from '../../src/store/lock.js';
import { writeLocked } from '../../src/store/fenced-update.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/decide-held.mjs');

t.test('a resumed orchestrator waits for a CLI decision that checked the session before it, then takes it as written', async t => {
  const root = t.testdir();
  // The first run's command waits for ever; once `release` exists, a command ends at once.
  makeProject(root, {
    workflow: { isolation: 'none', implement: { command: ['/bin/sh', '-c', 'if [ -e release ]; then exit 0; fi; sleep 300'] }, retry: { max_attempts: 3 } },
    tasks: { R1: { goal: 'cancelled while no orchestrator runs' } },
  });
  const first = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-first.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  await waitFor('the command to be recorded', () => readTaskRecord(root, 'R1')?.attempts.find(a => a.process !== undefined), 30_000);
  process.kill(first.pid!, 'SIGKILL'); // orch only: its command runs on, for the resume to stop
  await once(first, 'exit');
  const before = readTaskRecord(root, 'R1');
  writeFileSync(join(root, 'release'), '');

  const go = join(root, 'go');
  const decision = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', FIXTURE, root, 'R1', go], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (decision.exitCode === null) decision.kill('SIGKILL');
  });
  const line = lineReader(decision, 'decide-held');
  t.equal(await line(), 'checked', 'the decision holds the lock, its session check passed');

  const resumed = runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  const paths = statePaths(root);
  await waitFor('the resumed run to hold the session', async () => {
    const session = await readSession(paths).catch(() => undefined);
    return session !== undefined && session.run_id !== before?.attempts[0]?.run_id;
  }, 30_000);
  writeFileSync(go, '');
  t.equal(await line(), 'written');
  const result = await resumed;
  t.equal(result.code, 0, result.stderr);

  const after = readTaskRecord(root, 'R1');
  t.equal(after?.state, 'CANCELLED', 'the cancel stands');
  t.equal(after?.attempts.filter(a => a.phase === 'implement').length, 1, 'the task did not run again');
  t.same(readdirSync(paths.records).filter(name => name.includes('.rejected-')), [], 'nothing was taken for a hand edit');
  t.notOk(existsSync(`${join(paths.records, 'R1.json')}.lock`), 'no lock left');
});

t.test('waitForWriters returns once the locks held when it was called are released', async t => {
  const dir = t.testdir();
  const file = join(dir, 'T1.json');
  let release: () => void = () => undefined;
  const held = withLock(file, () => new Promise<void>(resolve => (release = resolve)));
  await waitFor('the lock dir', () => existsSync(`${file}.lock`), 10_000);
  let done = false;
  const waiting = waitForWriters(dir).then(unsettled => {
    done = true;
    return unsettled;
  });
  // The waiter is blocked on the lock: it cannot have returned before the holder lets go.
  await new Promise(resolve => setImmediate(resolve));
  t.equal(done, false, 'still waiting while the lock is held');
  release();
  await held;
  t.same(await waiting, [], 'returned, with nothing it could not wait for');
});

t.test("an owned file's stand-in lock checks the session right before the write: a takeover fences it", async t => {
  const dir = t.testdir();
  const sessionPath = join(dir, 'session.json');
  writeFileSync(sessionPath, JSON.stringify({ epoch: 3 }));
  const lock = ownedByTheSession(join(dir, 'T1.json'), { epoch: 3, sessionPath });
  lock.assertHeld();
  t.pass('held while the session names our epoch');
  writeFileSync(sessionPath, JSON.stringify({ epoch: 4, extra: 'a takeover' }));
  t.throws(() => lock.assertHeld(), { code: 'ORCH_EPOCH_FENCED' }, 'refused once another session took over');
});

t.test('a takeover while the new content is being made durable refuses the rename: the file stays as it was', async t => {
  const dir = t.testdir();
  const sessionPath = join(dir, 'session.json');
  writeFileSync(sessionPath, JSON.stringify({ epoch: 3 }));
  const file = join(dir, 'w1.json');
  const owned = ownedByTheSession(file, { epoch: 3, sessionPath });
  // The session changes hands while the new content is made durable (a process stopped during its
  // fsync, woken after the takeover): the check, made once the temp file is durable, must see it.
  let checks = 0;
  let tempDurable = false;
  const lock = {
    ...owned,
    assertHeld: (): void => {
      checks += 1;
      tempDurable = readdirSync(join(dir, '.orch-tmp')).length === 1;
      writeFileSync(sessionPath, JSON.stringify({ epoch: 4, extra: 'a takeover' }));
      owned.assertHeld();
    },
  };
  const doc = { version: 1, rev: 1, epoch: 3, name: 'w1', status: 'idle', updated_at: '2026-01-01T00:00:00.000Z' };
  await t.rejects(writeLocked('worker', file, lock, doc), { code: 'ORCH_EPOCH_FENCED' });
  t.equal(checks, 1, 'checked once');
  t.ok(tempDurable, 'after the new content was written, before the rename');
  t.notOk(existsSync(file), 'nothing written');
  t.same(readdirSync(join(dir, '.orch-tmp')), [], 'and the temp file removed');
});
