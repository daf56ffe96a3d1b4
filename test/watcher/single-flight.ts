import t from 'tap';
import { singleFlight } from '../../src/watcher/single-flight.js';

t.test('calls while a run is going join it, and the step runs once more before it ends', async t => {
  let runs = 0;
  let release: () => void = () => undefined;
  const run = singleFlight(async () => {
    runs += 1;
    if (runs === 1) await new Promise<void>(resolve => (release = resolve));
  }, () => false);
  const first = run();
  const second = run();
  const third = run();
  t.equal(first, second);
  t.equal(first, third);
  release();
  await first;
  t.equal(runs, 2, 'one more run for the calls made during the first, however many');
  await run();
  t.equal(runs, 3, 'a call after the run ends starts a new one');
});

t.test('stop ends the repeats, and a failing step rejects the run and lets the next one start', async t => {
  let runs = 0;
  let stopped = false;
  let release: () => void = () => undefined;
  const run = singleFlight(async () => {
    runs += 1;
    await new Promise<void>(resolve => (release = resolve));
  }, () => stopped);
  const first = run();
  void run();
  stopped = true;
  release();
  await first;
  t.equal(runs, 1);
  const failing = singleFlight(async () => {
    throw new Error('step failed');
  }, () => false);
  await t.rejects(failing(), { message: 'step failed' });
  await t.rejects(failing(), { message: 'step failed' }, 'not stuck on the failed run');
});
