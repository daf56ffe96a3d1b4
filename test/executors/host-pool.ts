// The ssh pool's placement (src/executors/ssh/host-pool.ts), on a clock the test moves: slot caps, the
// least loaded host first, the task's last host while it is up, a host down until its backoff passes,
// and a waiter woken by a freed slot or a host's retry time.
import t from 'tap';
import { HOST_RETRY_FIRST_MS, HostPool } from '../../src/executors/ssh/host-pool.js';

function pool(now: { ms: number }): HostPool {
  return new HostPool([{ name: 'a', slots: 2 }, { name: 'b', slots: 1 }], () => now.ms);
}

t.test('least loaded first (running / slots), then config order; never past a host\'s slots', async t => {
  const now = { ms: 0 };
  const p = pool(now);
  const placed = [p.tryAcquire(), p.tryAcquire(), p.tryAcquire()].map(lease => lease?.host);
  t.same(placed, ['a', 'b', 'a'], 'a (0/2), then b (0/1 beats a at 1/2), then a');
  t.equal(p.tryAcquire(), undefined, 'every slot is taken');
  t.same(p.view().map(h => [h.name, h.running]), [['a', 2], ['b', 1]]);
});

t.test('the task\'s last host wins while it is up and has a slot; a lease is given back once', async t => {
  const now = { ms: 0 };
  const p = pool(now);
  const first = p.tryAcquire('b');
  t.equal(first?.host, 'b', 'sticky, although a is less loaded');
  t.equal(p.tryAcquire('b')?.host, 'a', 'b is full: the next best');
  first?.release();
  first?.release();
  t.same(p.view().map(h => h.running), [1, 0], 'released once, not twice');
});

t.test('a host that could not be reached is skipped until its backoff has passed, then tried again', async t => {
  const now = { ms: 0 };
  const p = pool(now);
  p.markDown('a', 'connection refused');
  t.equal(p.tryAcquire('a')?.host, 'b', 'the down host is not taken, sticky or not');
  t.equal(p.tryAcquire(), undefined, 'b is full and a is down');
  now.ms += HOST_RETRY_FIRST_MS;
  t.equal(p.tryAcquire()?.host, 'a', 'tried again once its backoff passed');
  p.markDown('a', 'still refused');
  t.match(p.view()[0], { down: true, lastError: 'still refused' });
  now.ms += HOST_RETRY_FIRST_MS;
  t.equal(p.tryAcquire(), undefined, 'the second failure doubles the wait');
  p.markUp('a');
  t.equal(p.tryAcquire()?.host, 'a', 'up again: taken at once');
});

t.test('a waiter gets the slot another attempt gives back, and gives up when its signal aborts', async t => {
  const now = { ms: 0 };
  const p = new HostPool([{ name: 'only', slots: 1 }], () => now.ms);
  const held = p.tryAcquire();
  const waiting = p.acquire(undefined, new AbortController().signal);
  held?.release();
  t.equal((await waiting).host, 'only');
  const controller = new AbortController();
  const cancelled = p.acquire(undefined, controller.signal);
  controller.abort();
  await t.rejects(cancelled, 'aborted while waiting');
});

t.test("hold takes a slot of a named host whatever its load (a followed attempt's): the others see it taken", async t => {
  const now = { ms: 0 };
  const p = new HostPool([{ name: 'a', slots: 1 }, { name: 'b', slots: 1 }], () => now.ms);
  p.markDown('a', 'not reached yet');
  const followed = p.hold('a');
  t.equal(followed.host, 'a', 'held on a down host: its command runs there already');
  p.markUp('a');
  t.equal(p.tryAcquire('a')?.host, 'b', 'a is full: a new attempt goes to b');
  const over = p.hold('b');
  t.match(p.view(), [{ name: 'a', running: 1 }, { name: 'b', running: 2 }], 'over the cap when two commands run there');
  over.release();
  followed.release();
  t.equal(p.tryAcquire('a')?.host, 'a', 'given back: a takes new work again');
  t.throws(() => p.hold('gone'), /no host gone/, 'a host not in the pool');
});
