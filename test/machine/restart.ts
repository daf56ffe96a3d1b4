import t from 'tap';
import { configWith, driver, HASH2 } from './harness.js';

t.test('a spec change with on_spec_change restart closes the running attempt: its late success does not complete the restarted phase', async t => {
  const d = driver({ goal: 'old goal' }, configWith({ implement: { command: ['agent'] } }));
  d.send({ type: 'start' });
  const old = d.begin();
  const effects = d.send({ type: 'spec_changed', spec: { goal: 'new goal' }, hash: HASH2, mode: 'restart' });
  t.ok(effects.some(e => e.type === 'stop_command'), 'the running command is stopped');
  t.match(d.record.attempts.find(a => a.n === old), { reason: 'cancelled', error: /superseded/ });
  d.end(old, { reason: 'succeeded' }); // it exited on its own before the stop landed
  t.equal(d.record.state, 'IMPLEMENTING', 'the phase is not completed by the old attempt');
  t.equal(d.record.steps[0]?.state, 'IMPLEMENTING');
  d.run();
  t.equal(d.record.state, 'DONE', 'the restarted phase runs again on the new spec and completes');
  t.equal(d.record.spec.goal, 'new goal');
});
