import t from 'tap';
import { HintQueue } from '../../src/watcher/hint-queue.js';
import type { Hint } from '../../src/watcher/classify.js';

const spec = (id: string): Hint => ({ kind: 'spec', id, path: `/p/tasks/${id}.json` });
const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

t.test('a burst of events for one path in one turn is one hint, delivered after the turn', async t => {
  const got: Hint[] = [];
  const queue = new HintQueue(hint => got.push(hint));
  for (let i = 0; i < 10_000; i++) queue.add(spec('A'));
  queue.add(spec('B'));
  t.equal(got.length, 0, 'nothing is delivered inside the turn');
  t.equal(queue.pendingCount(), 2);
  await turn();
  t.same(got.map(h => h.id), ['A', 'B']);
  t.same(queue.stats(), { pending: 0, highWater: 2, offered: 10_001, delivered: 2 });
});

t.test('an event after a delivery is a new hint: the last change of a burst is never swallowed', async t => {
  const got: Hint[] = [];
  const queue = new HintQueue(hint => got.push(hint));
  queue.add(spec('A'));
  await turn();
  queue.add(spec('A'));
  await turn();
  t.equal(got.length, 2);
});

t.test('past the limit, new paths collapse into one hint for their folder, so memory stays bounded', async t => {
  const got: Hint[] = [];
  const queue = new HintQueue(hint => got.push(hint), 10);
  for (let i = 0; i < 5000; i++) queue.add(spec(`T${i}`));
  queue.add({ kind: 'record', id: 'R', path: '/p/state/tasks/R.json' });
  queue.add({ kind: 'config', path: '/p/config.json' });
  t.ok(queue.pendingCount() <= 13, `pending ${queue.pendingCount()}`);
  await turn();
  t.equal(got.filter(h => h.id !== undefined && h.kind === 'spec').length, 10);
  t.same(got.filter(h => h.id === undefined && h.kind !== 'config'), [
    { kind: 'spec', path: '/p/tasks' },
    { kind: 'record', path: '/p/state/tasks' },
  ]);
  t.ok(got.some(h => h.kind === 'config'), 'config is never collapsed');
  t.equal(queue.stats().highWater, 13);
});

t.test('close drops what is pending and delivers nothing more', async t => {
  const got: Hint[] = [];
  const queue = new HintQueue(hint => got.push(hint));
  queue.add(spec('A'));
  queue.close();
  queue.add(spec('B'));
  await turn();
  t.same(got, []);
  t.equal(queue.pendingCount(), 0);
});
