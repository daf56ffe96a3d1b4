// The spool wrapper (executors/orch-spool-run.sh) run on this host, as a remote executor will run it
// on another: the end of a command is a file published by rename, not the connection that started it.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listGroupMembers, readProcessStat } from '../../src/runner/process-group.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

const WRAPPER = fileURLToPath(new URL('../../executors/orch-spool-run.sh', import.meta.url));

function wrapper(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sh', [WRAPPER, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts ARGV through the wrapper; returns its pgid. Every group started is killed at teardown. */
function start(t: Test, spool: string, attempt: string, argv: string[]): number {
  const started = wrapper('start', spool, attempt, '--', ...argv);
  t.equal(started.code, 0, 'start returns at once', { stderr: started.stderr });
  const pgid = Number(started.stdout.trim());
  t.teardown(() => {
    for (const member of listGroupMembers(pgid)) process.kill(member.pid, 'SIGKILL');
  });
  return pgid;
}

const exitcode = (spool: string): Promise<string> =>
  waitFor(`${spool}/exitcode to be published`, () => (existsSync(join(spool, 'exitcode')) ? readFileSync(join(spool, 'exitcode'), 'utf8') : undefined), 30_000);

t.test('start returns the group at once; the command runs in a session of its own and its end is published with the attempt', async t => {
  const spool = join(t.testdir(), 'spool');
  const go = join(t.testdir(), 'go');
  writeFileSync(go, '');
  const pgid = start(t, spool, 'T1/1/2', ['sh', '-c', 'echo out; echo err >&2; while [ ! -s "$0" ]; do sleep 0.05; done; exit 7', go]);
  const stat = readProcessStat(pgid);
  t.equal(stat?.pgid, pgid, 'the command leads its process group');
  t.equal(stat?.pid, pgid);
  t.notOk(existsSync(join(spool, 'exitcode')), 'no end while it runs');
  writeFileSync(go, 'go'); // let it finish
  t.equal(await exitcode(spool), '7 T1/1/2\n');
  t.equal(readFileSync(join(spool, 'stdout'), 'utf8'), 'out\n');
  t.equal(readFileSync(join(spool, 'stderr'), 'utf8'), 'err\n');
  t.equal(wrapper('wait', spool).stdout, '7 T1/1/2\n', 'wait prints the published end');
});

t.test('the command and its monitor outlive the session that started them (a dropped connection)', async t => {
  const dir = t.testdir();
  const spool = join(dir, 'spool');
  const pgidFile = join(dir, 'pgid');
  // A login session stand-in: its own session, which starts the wrapper and then hangs on.
  const session = spawn('setsid', ['sh', '-c', `sh "$0" start "$1" T1/1/1 -- sleep 2 > "$2"; exec sleep 300`, WRAPPER, spool, pgidFile], { stdio: 'ignore' });
  t.teardown(() => void session.kill('SIGKILL'));
  const pgid = await waitFor('the wrapper to print the pgid', () => (existsSync(pgidFile) && readFileSync(pgidFile, 'utf8').trim() !== '' ? Number(readFileSync(pgidFile, 'utf8')) : undefined));
  t.teardown(() => {
    for (const member of listGroupMembers(pgid)) process.kill(member.pid, 'SIGKILL');
  });
  process.kill(-(session.pid ?? 0), 'SIGHUP');
  process.kill(-(session.pid ?? 0), 'SIGKILL');
  await waitFor('the session to be gone', () => listGroupMembers(session.pid ?? 0).length === 0);
  t.ok(isAlive(pgid), 'the command runs on');
  t.equal(await exitcode(spool), '0 T1/1/1\n', 'and its end is published all the same');
});

t.test('a cancel kills the command\'s group; the monitor, outside it, publishes how it ended', async t => {
  const spool = join(t.testdir(), 'spool');
  const pgid = start(t, spool, 'T2/1/1', ['sh', '-c', 'sleep 300 & sleep 300']);
  await waitFor('both sleeps of the group to run', () => listGroupMembers(pgid).length >= 2);
  process.kill(-pgid, 'SIGTERM');
  t.equal(await exitcode(spool), '143 T2/1/1\n', '128 + SIGTERM');
  await waitFor('nothing of the group to be left', () => listGroupMembers(pgid).length === 0);

  const killed = join(t.testdir(), 'killed');
  const other = start(t, killed, 'T2/1/2', ['sleep', '300']);
  process.kill(-other, 'SIGKILL');
  t.equal(await exitcode(killed), '137 T2/1/2\n', '128 + SIGKILL');
});

t.test('run: the same in the foreground (a Slurm batch job); a spool serves one attempt; bad usage exits 2', async t => {
  const spool = join(t.testdir(), 'spool');
  const run = wrapper('run', spool, 'T3/1/1', '--', 'sh', '-c', 'echo hi; exit 3');
  t.equal(run.code, 0, 'the monitor itself succeeds');
  t.equal(readFileSync(join(spool, 'exitcode'), 'utf8'), '3 T3/1/1\n');
  const again = wrapper('start', spool, 'T3/1/2', '--', 'true');
  t.equal(again.code, 2);
  t.match(again.stderr, /already holds an ended attempt/);
  t.match(wrapper('start', spool).stderr, /usage/);
  t.match(wrapper('bogus').stderr, /usage/);
  t.same(wrapper('--version'), { code: 0, stdout: 'orch-spool-run 2\n', stderr: '' });
});
