// The session marker (src/runner/session-marker.ts): a command runs before its identity is recorded,
// so an orchestrator killed in between leaves a command no record names. Its environment names the
// state dir and the run; the next start (and doctor) find it by that and stop its group.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessIdentity } from '../../src/generated/types.js';
import { STOP_RESULT, stopForeignMarked } from '../../src/runner/kill-group.js';
import { listGroupMembers } from '../../src/runner/process-group.js';
import { findForeignMarked, readMarker } from '../../src/runner/session-marker.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

const fixture = fileURLToPath(new URL('../fixtures/spawn-parent.mjs', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

t.test('an orchestrator killed -9 before the identity is recorded: its command runs on, is found by its marker, and stopped', async t => {
  const dir = t.testdir({});
  const marker = join(dir, 'marker');
  const identityFile = join(dir, 'identity.json');
  const parent = spawn(process.execPath, ['--import', 'tsx', fixture, dir, marker, identityFile, 'run-dead'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>(resolve => parent.once('exit', (_code, signal) => resolve(signal)));
  let identity: ProcessIdentity | undefined;
  t.teardown(() => {
    parent.kill('SIGKILL');
    for (const member of identity === undefined ? [] : listGroupMembers(identity.pgid)) process.kill(member.pid, 'SIGKILL');
  });
  identity = await waitFor('the fixture to write the identity from onSpawn', () =>
    existsSync(identityFile) ? (JSON.parse(readFileSync(identityFile, 'utf8')) as ProcessIdentity) : undefined,
  );
  const pgid = identity.pgid;
  await waitFor('the command to do its first act while its identity is not yet recorded', () => existsSync(marker));
  parent.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  t.ok(isAlive(identity.pid), 'the command outlives its orchestrator');
  t.same(readMarker(identity.pid), { stateDir: dir, session: 'run-dead', attemptId: 'T1/1/1' }, 'its environment names the state dir, the run and the attempt');

  t.same(findForeignMarked(dir, 'run-dead').map(p => p.pid), [], 'the run that spawned it does not see it as foreign');
  t.same(findForeignMarked(join(dir, 'other'), undefined), [], 'another state dir does not see it');
  const found = findForeignMarked(dir, 'run-live');
  t.same(found.map(p => [p.pid, p.pgid, p.attemptId]), [[identity.pid, pgid, 'T1/1/1']], 'the next session of this state dir finds it');

  const stopped = await stopForeignMarked(dir, 'run-live', 1000);
  t.same(stopped.map(s => [s.pgid, s.attemptId, s.session, s.result]), [[pgid, 'T1/1/1', 'run-dead', STOP_RESULT.stopped]]);
  t.same(listGroupMembers(pgid), [], 'no process of its group remains');
  t.same(await stopForeignMarked(dir, 'run-live', 1000), [], 'a second look finds nothing');
});

t.test('a process without the marker, or of another user, is never taken for an orphan', async t => {
  const dir = t.testdir({});
  const child = spawn('sleep', ['30'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ORCH_STATE_DIR: dir }, stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await waitFor('the child to exec', () => readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'));
  t.equal(readMarker(child.pid ?? 0), undefined, 'a state dir without a session is no marker');
  t.same(findForeignMarked(dir, undefined), []);
  t.equal(readMarker(1), undefined, 'pid 1 (another user\'s, or ours without a marker) has none');
});
