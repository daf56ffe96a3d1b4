import t from 'tap';
import { existsSync, mkdirSync, rmSync, rmdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_STALE_MS, LOCK_TIMEOUT_MS, LOCK_UPDATE_MS, withLock, type HeldLock } from '../../src/store/lock.js';

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(done => setTimeout(done, 20));
  }
}

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
      rmdirSync(lock.lockPath);
      // `compromised` does not check by itself: only proper-lockfile's refresh timer can set it here.
      await until('the refresh timer to find the lock compromised', () => lock.compromised);
      t.ok(lock.signal.aborted, 'the signal is aborted');
      t.throws(() => lock.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' });
    },
    { staleMs: 2_000, updateMs: 1_000 },
  );
  t.throws(() => held!.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' }, 'a released lock is not held');
});

t.test('a holder that stalled past the stale time is taken over, sees it, and does not remove the new lock', async t => {
  const dir = t.testdir();
  const file = join(dir, 'x.json');
  const options = { staleMs: 2_000, updateMs: 1_000 };
  let releaseThief: () => void = () => undefined;
  let thief: Promise<void> | undefined;
  let thiefIn = false;
  await withLock(
    file,
    async lock => {
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
      await until('the contender to take the stale lock', () => thiefIn);
      t.throws(() => lock.assertHeld(), { code: 'ORCH_LOCK_COMPROMISED' });
    },
    options,
  );
  t.ok(existsSync(`${file}.lock`), 'our release left the new holder its lock');
  releaseThief();
  await thief;
  t.notOk(existsSync(`${file}.lock`));
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
