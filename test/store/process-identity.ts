import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { bootId, identityOf, livenessOf, readProcessState, readStartTime, selfIdentity } from '../../src/store/process-identity.js';

const SLEEP = resolve(import.meta.dirname, '../fixtures/session-sleep.mjs');

/** Starts `command`, waits for its "ready" line, and kills it at the end of the test. */
async function startSleeper(t: Test, command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  t.equal(chunk.toString(), 'ready\n', 'the sleeper started');
  return child;
}

/** Field 22 counted from the end of the line: independent of what the name in parentheses holds. */
function startTimeFromTheEnd(pid: number): number {
  const fieldCount = readFileSync('/proc/self/stat', 'utf8').trim().split(' ').length; // our own name has no spaces
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').trim().split(' ');
  return Number(fields[fields.length - (fieldCount - 21)]);
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

t.test('readStartTime of this process is field 22 of /proc/self/stat', async t => {
  const fields = readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(' ');
  t.equal(readStartTime(process.pid), Number(fields[21]));
  t.match(selfIdentity(), { pid: process.pid, start_time: Number(fields[21]), boot_id: bootId(), host: hostname() });
  t.equal(livenessOf(selfIdentity()), 'alive');
});

t.test('a pid that is gone has no start time and is dead', async t => {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  const identity = identityOf(pid);
  await exited(child);
  t.equal(readStartTime(pid), undefined);
  t.equal(identityOf(pid), undefined);
  if (identity !== undefined) t.equal(livenessOf(identity), 'dead');
  t.equal(readStartTime(0), undefined);
});

t.test('a process whose name holds ") " and numbers is read right', async t => {
  const dir = t.testdir();
  const name = 'z) 1 2 ) q';
  const link = join(dir, name);
  symlinkSync(process.execPath, link);
  const child = await startSleeper(t, link, [SLEEP]);
  const pid = child.pid!;
  t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), name, 'the kernel knows it by that name');
  t.equal(readStartTime(pid), startTimeFromTheEnd(pid));
  t.match(readProcessState(pid), /^[RS]$/, 'running or sleeping');
  const identity = identityOf(pid)!;
  t.equal(livenessOf(identity), 'alive');
  t.equal(livenessOf({ ...identity, start_time: identity.start_time + 1 }), 'dead', 'a reused pid is not the process');
  child.kill('SIGKILL');
  await exited(child);
  t.equal(livenessOf(identity), 'dead');
});

t.test('another boot is dead, another host unknown', async t => {
  t.equal(livenessOf({ ...selfIdentity(), boot_id: 'another-boot' }), 'dead');
  t.equal(livenessOf({ ...selfIdentity(), host: `not-${hostname()}` }), 'unknown');
});

t.test('a zombie is dead', async t => {
  // sh starts a short sleep in the background and becomes a long one, which never reaps it. (The
  // short one outlives sh's exec, so sh itself has no chance to reap it first.)
  const parent = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  });
  const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
  const pid = Number(chunk.toString().trim());
  const deadline = Date.now() + 10_000;
  while (readProcessState(pid) !== 'Z') {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pid} to become a zombie (state ${readProcessState(pid)})`);
    await new Promise(done => setTimeout(done, 10));
  }
  const identity = identityOf(pid)!;
  t.equal(livenessOf(identity), 'dead');
});
