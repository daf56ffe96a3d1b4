import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { judgeLock, LOCK_STALE_MS, LOCK_TIMEOUT_MS, LOCK_UPDATE_MS, lockHolder, reapLock, withLock, type HeldLock } from '../../src/store/lock.js';
import { bootId, selfIdentity } from '../../src/store/process-identity.js';
import { lineReader } from '../fixtures/child-lines.js';
import { waitFor } from '../fixtures/wait-for.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures');


t.test('the tunables are the documented ones', async t => {
  t.same({ LOCK_STALE_MS, LOCK_UPDATE_MS, LOCK_TIMEOUT_MS }, { LOCK_STALE_MS: 10_000, LOCK_UPDATE_MS: 2_000, LOCK_TIMEOUT_MS: 30_000 });
  t.ok(LOCK_TIMEOUT_MS > LOCK_STALE_MS, 'a dead holder is always outlived');
});

t.test('a lock dir exists while fn runs, for a file that need not exist, and is gone after', async t => {
  const dir = t.testdir();
  const file = join(dir, 'sub/x.json');
  const result = await withLock(file, async lock => {
    t.ok(statSync(`${file}.lock`).isDirectory());
    t.equal(lock.lockPath, `${file}.lock`);
    lock.assertHeld();
    t.notOk(lock.compromised);
    return 42;
  });
  t.equal(result, 42);
  t.notOk(existsSync(`${file}.lock`));
  t.notOk(existsSync(file), 'the file itself is not created');
});

t.test('the lock is released when fn throws', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  await t.rejects(
    withLock(file, async () => {
      throw new Error('boom');
    }),
    { message: 'boom' },
  );
  t.notOk(existsSync(`${file}.lock`));
});

t.test('holders of one file take turns', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  let inside = 0;
  let overlap = false;
  await Promise.all(
    Array.from({ length: 5 }, () =>
      withLock(file, async () => {
        inside += 1;
        if (inside > 1) overlap = true;
        await new Promise(done => setTimeout(done, 5));
        inside -= 1;
      }),
    ),
  );
  t.notOk(overlap, 'no two holders at once');
});

t.test('waiting past the timeout for a live lock fails naming the file', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  mkdirSync(`${file}.lock`); // fresh mtime: held by someone alive
  await t.rejects(withLock(file, async () => 1, { timeoutMs: 300 }), { code: 'ORCH_LOCK_TIMEOUT', details: { file } });
  t.ok(existsSync(`${file}.lock`), 'the holder keeps its lock');
});

t.test('an abort signal stops the wait', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  mkdirSync(`${file}.lock`);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 50);
  await t.rejects(withLock(file, async () => 1, { signal: controller.signal }), { message: 'stop' });
});

t.test('a dead holder lock (mtime past the stale time) is taken over', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  mkdirSync(`${file}.lock`);
  const past = new Date(Date.now() - LOCK_STALE_MS - 5_000);
  utimesSync(`${file}.lock`, past, past);
  t.equal(await withLock(file, async () => 'mine', { timeoutMs: 5_000 }), 'mine');
});

t.test('a dead holder lock left in the future by a clock set back is taken over once it stays unrefreshed', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  mkdirSync(`${file}.lock`);
  const future = new Date(Date.now() + 3_600_000);
  utimesSync(`${file}.lock`, future, future);
  t.equal(await withLock(file, async () => 'mine', { staleMs: 2_000, updateMs: 1_000, timeoutMs: 20_000 }), 'mine');
});

t.test('a lock dir removed under a holder marks it compromised from the refresh timer, without crashing', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  let held: HeldLock | undefined;
  await withLock(
    file,
    async lock => {
      held = lock;
      rmSync(lock.lockPath, { recursive: true });
      // `compromised` does not check by itself: only proper-lockfile's refresh timer can set it here.
      await waitFor('the refresh timer to find the lock compromised', () => lock.compromised);
      t.ok(lock.signal.aborted, 'the signal is aborted');
      t.throws(() => lock.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' });
    },
    { staleMs: 2_000, updateMs: 1_000 },
  );
  t.throws(() => held!.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' }, 'a released lock is not held');
});

/** Rewrites the holder file in `lockPath` so that it names the same process on another host: out of sight. */
function moveHolderToAnotherHost(lockPath: string): void {
  const name = readdirSync(lockPath).find(n => n.startsWith('holder.'));
  if (name === undefined) throw new Error(`no holder file in ${lockPath}`);
  const identity = JSON.parse(readFileSync(join(lockPath, name), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(lockPath, name), JSON.stringify({ ...identity, host: `not-${hostname()}` }));
}

t.test('a holder out of sight (another host) that stalled past the stale time is taken over, sees it, and does not remove the new lock', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  const options = { staleMs: 2_000, updateMs: 1_000 };
  let releaseThief: () => void = () => undefined;
  let thief: Promise<void> | undefined;
  let thiefIn = false;
  await withLock(
    file,
    async lock => {
      moveHolderToAnotherHost(lock.lockPath); // whether it lives cannot be seen from here
      const past = new Date(Date.now() - 60_000);
      utimesSync(lock.lockPath, past, past); // as if our refreshes had stopped for a minute
      thief = withLock(
        file,
        async () => {
          thiefIn = true;
          await new Promise<void>(done => (releaseThief = done));
        },
        options,
      );
      await waitFor('the contender to take the stale lock', () => thiefIn);
      t.throws(() => lock.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' });
    },
    options,
  );
  t.ok(existsSync(`${file}.lock`), 'our release left the new holder its lock');
  releaseThief();
  await thief;
  t.notOk(existsSync(`${file}.lock`));
});

t.test('a live holder on this host keeps its lock however old its mtime looks: a contender waits, reapLock refuses', async t => {
  const file = join(t.testdir(), 'x.json');
  const holder = start(t, 'lock-hold.mjs', [file]);
  t.equal(await holder.line(), 'locked');
  const before = statSync(`${file}.lock`).ino;
  // An hour old, as a clock set forward an hour sees it (or a doctor run under such a clock).
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(`${file}.lock`, past, past);
  t.equal(reapLock(`${file}.lock`, LOCK_STALE_MS), false, 'reapLock refuses');
  t.equal(reapLock(`${file}.lock`, LOCK_STALE_MS, Date.now() + 86_400_000), false, 'also with a clock a day ahead');
  t.match(judgeLock(`${file}.lock`, LOCK_STALE_MS), { state: 'held', reason: /alive/ });
  await t.rejects(withLock(file, async () => 1, { timeoutMs: 1_500 }), { code: 'ORCH_LOCK_TIMEOUT', message: /x\.json/, hint: new RegExp(`pid ${holder.child.pid} on `) });
  t.equal(statSync(`${file}.lock`).ino, before, 'the same lock dir');
  t.match(lockHolder(`${file}.lock`), { pid: holder.child.pid });
});

t.test('a lock of this process is held only while it is held: one given up as compromised is removed on release, one left behind is taken', async t => {
  const file = join(t.testdir(), 'x.json');
  await withLock(
    file,
    async lock => {
      const past = new Date(Date.now() - 60_000);
      utimesSync(lock.lockPath, past, past); // its mtime is not ours any more: proper-lockfile gives it up
      await waitFor('the refresh timer to find the lock compromised', () => lock.compromised);
      t.ok(existsSync(lock.lockPath), 'still there while fn runs');
    },
    { staleMs: 2_000, updateMs: 1_000 },
  );
  t.notOk(existsSync(`${file}.lock`), 'removed on release: a live process does not keep a lock it gave up');

  // A holder file naming this process that it no longer holds (a release that could not remove it).
  const me = selfIdentity();
  const left = `${file}.left`;
  mkdirSync(`${left}.lock`);
  writeFileSync(join(`${left}.lock`, `holder.${me.pid}-${me.start_time}.999999`), JSON.stringify(me));
  t.match(judgeLock(`${left}.lock`, LOCK_STALE_MS), { state: 'abandoned' });
  t.equal(await withLock(left, async () => 'mine', { timeoutMs: 2_000 }), 'mine', 'taken at once');
});

t.test('a lock whose refreshes stopped is not held any more, even before anyone takes it', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  await withLock(file, async lock => {
    const past = new Date(Date.now() - LOCK_STALE_MS);
    utimesSync(lock.lockPath, past, past);
    t.throws(() => lock.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED', message: /not refreshed/ });
  });
  rmSync(`${file}.lock`, { recursive: true, force: true });
});

interface Child {
  child: ChildProcess;
  line(): Promise<string>;
}

/**
 * Starts a fixture under tsx (without tap's NODE_OPTIONS hook: `env` execs node in place, so the pid
 * is node's), and kills it at the end of the test. Lines of its stdout come from line().
 */
function start(t: Test, fixture: string, args: string[]): Child {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', join(FIXTURES, fixture), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  return { child, line: lineReader(child, fixture) };
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve();
  child.kill('SIGKILL');
  await exited;
}

t.test('a lock whose holder was killed -9 is taken at once: the waiter does not wait for the stale time', async t => {
  const file = join(t.testdir(), 'x.json');
  const holder = start(t, 'lock-hold.mjs', [file]);
  t.equal(await holder.line(), 'locked');
  t.match(lockHolder(`${file}.lock`), { pid: holder.child.pid, boot_id: bootId(), host: hostname() }, 'the holder is named in the lock dir');
  await killHard(holder.child);
  t.ok(existsSync(`${file}.lock`), 'kill -9 left the lock dir behind');
  const started = performance.now();
  const waited = await withLock(file, async lock => {
    lock.assertHeld();
    t.match(lockHolder(lock.lockPath), { pid: process.pid }, 'now it names us');
    return performance.now() - started;
  });
  // Not a speed assertion: waiting for staleness would take most of LOCK_STALE_MS (10 s).
  t.ok(waited < 5_000, `taken in ${Math.round(waited)} ms, not after the ${LOCK_STALE_MS} ms stale time`);
  t.notOk(existsSync(`${file}.lock`), 'released: holder file and lock dir removed');
});

t.test('a live holder in another process still blocks, and its lock is left alone', async t => {
  const file = join(t.testdir(), 'x.json');
  const holder = start(t, 'lock-hold.mjs', [file]);
  t.equal(await holder.line(), 'locked');
  const before = statSync(`${file}.lock`);
  await t.rejects(withLock(file, async () => 1, { timeoutMs: 1_500 }), { code: 'ORCH_LOCK_TIMEOUT' });
  t.equal(reapLock(`${file}.lock`, LOCK_STALE_MS), false, 'reapLock refuses too');
  t.equal(statSync(`${file}.lock`).ino, before.ino, 'the same lock dir');
  t.match(lockHolder(`${file}.lock`), { pid: holder.child.pid });
});

t.test('four processes racing for a dead holder\'s lock hold it one at a time: a counter raised under it is exact', async t => {
  const dir = t.testdir({ counter: '0' });
  const file = join(dir, 'x.json');
  const counter = join(dir, 'counter');
  const perChild = 25;
  const holder = start(t, 'lock-hold.mjs', [file]);
  const racers = Array.from({ length: 4 }, () => start(t, 'lock-increment.mjs', [file, counter, String(perChild)]));
  t.equal(await holder.line(), 'locked');
  for (const racer of racers) t.equal(await racer.line(), 'ready');
  await killHard(holder.child);
  for (const racer of racers) racer.child.stdin!.write('go\n');
  const results = await Promise.all(racers.map(async racer => JSON.parse(await racer.line()) as { ok: boolean; overlaps: number }));
  t.same(results, racers.map(() => ({ ok: true, overlaps: 0 })), 'no racer found another inside, none lost the lock');
  t.equal(readFileSync(counter, 'utf8'), String(4 * perChild), 'no increment lost');
  t.notOk(existsSync(`${file}.lock`));
});

t.test('a holder that cannot be checked (another host, an unreadable holder file) is waited for like a live one', async t => {
  const dir = t.testdir();
  const me = selfIdentity();
  const cases = {
    'another host': [`holder.999999-1.1`, JSON.stringify({ pid: 999999, start_time: 1, boot_id: 'their-boot', host: `not-${hostname()}` })],
    'half-written': [`holder.999999-1.1`, '{"pid":9'],
    'name and content disagree': [`holder.999999-1.1`, JSON.stringify({ ...me })],
  } as const;
  for (const [what, [name, content]] of Object.entries(cases)) {
    const file = join(dir, `${what.replace(/ /g, '-')}.json`);
    mkdirSync(`${file}.lock`);
    writeFileSync(join(`${file}.lock`, name), content);
    await t.rejects(withLock(file, async () => 1, { timeoutMs: 300 }), { code: 'ORCH_LOCK_TIMEOUT' }, what);
    t.same(readdirSync(`${file}.lock`), [name], `${what}: left in place`);
    const past = new Date(Date.now() - LOCK_STALE_MS - 5_000);
    utimesSync(`${file}.lock`, past, past);
    t.equal(await withLock(file, async () => 'mine', { timeoutMs: 5_000 }), 'mine', `${what}: taken once stale`);
  }
});

t.test('a dead holder named in its lock dir is taken at once, however fresh the mtime', async t => {
  const file = join(t.testdir(), 'x.json');
  mkdirSync(`${file}.lock`);
  const gone = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', '0']);
  await once(gone, 'exit');
  const dead = { pid: gone.pid!, start_time: 1, boot_id: bootId(), host: hostname() };
  writeFileSync(join(`${file}.lock`, `holder.${dead.pid}-1.7`), JSON.stringify(dead));
  const rebooted = { ...selfIdentity(), boot_id: 'an-earlier-boot' };
  const other = `${file}.other`;
  mkdirSync(`${other}.lock`);
  writeFileSync(join(`${other}.lock`, `holder.${rebooted.pid}-${rebooted.start_time}.1`), JSON.stringify(rebooted));
  t.equal(await withLock(file, async () => 'mine', { timeoutMs: 2_000 }), 'mine', 'its pid is gone');
  t.equal(await withLock(other, async () => 'mine', { timeoutMs: 2_000 }), 'mine', 'it ran before a reboot');
});

t.test('a lock dir with anything but holder files in it is never removed', async t => {
  const file = join(t.testdir(), 'x.json');
  mkdirSync(`${file}.lock`);
  writeFileSync(join(`${file}.lock`, 'notes.txt'), 'not a lock of ours');
  const past = new Date(Date.now() - LOCK_STALE_MS - 5_000);
  utimesSync(`${file}.lock`, past, past);
  t.equal(reapLock(`${file}.lock`, LOCK_STALE_MS), false);
  await t.rejects(withLock(file, async () => 1, { timeoutMs: 300 }), { code: 'ORCH_LOCK_TIMEOUT' });
  t.same(readdirSync(`${file}.lock`), ['notes.txt']);
  t.equal(reapLock(join(t.testdir(), 'missing.lock'), LOCK_STALE_MS), true, 'a lock that is not there is free');
});

t.test("proper-lockfile's mtime probe runs once per process, not on every lock", async t => {
  // The probe sets the lock dir's mtime to the next whole second + 5 ms, in the future; a lock taken
  // without it keeps the mtime of its mkdir, in the past. Its cache lives on the fs object it is given,
  // which is new per lock: without the carry-over, every lock probed (a utimes and a stat).
  const file = join(t.testdir(), 'probed.json');
  await withLock(file, async () => undefined);
  const mtimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    await withLock(file, async () => {
      mtimes.push(statSync(`${file}.lock`).mtimeMs - Date.now());
    });
  }
  t.ok(mtimes.every(ahead => ahead < 3), `each later lock dir keeps its mkdir time (ms ahead of now: ${mtimes.map(m => m.toFixed(1)).join(', ')})`);
});
