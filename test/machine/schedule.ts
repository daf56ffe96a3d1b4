import t from 'tap';
import type { TaskRecord, TaskState } from '../../src/generated/types.js';
import { createRecord } from '../../src/machine/record.js';
import { assertNoDependencyCycles, findDependencyCycles, isRunnable, orderRunnable, unmetDependencies } from '../../src/machine/schedule.js';
import { HASH, T0 } from './harness.js';

function rec(id: string, extra: { state?: TaskState; priority?: number; created?: number; depends_on?: string[]; next?: number } = {}): TaskRecord {
  const record = createRecord(
    { goal: id, ...(extra.priority === undefined ? {} : { priority: extra.priority }), ...(extra.depends_on === undefined ? {} : { depends_on: extra.depends_on }) },
    id, `tasks/${id}.json`, HASH, extra.created ?? T0,
  );
  return {
    ...record,
    state: extra.state ?? 'NEW',
    ...(extra.next === undefined ? {} : { next_attempt_at: new Date(extra.next).toISOString() }),
  };
}

t.test('a task runs when its dependencies are DONE, its wait is over and nothing of it runs', async t => {
  const byId = new Map([['A', rec('A', { state: 'DONE' })], ['B', rec('B', { state: 'IMPLEMENTING' })]]);
  t.ok(isRunnable(rec('X', { depends_on: ['A'] }), T0, byId));
  t.notOk(isRunnable(rec('X', { depends_on: ['A', 'B'] }), T0, byId));
  t.same(unmetDependencies(rec('X', { depends_on: ['A', 'B', 'GONE'] }), byId), ['B', 'GONE'], 'a missing dependency is unmet');
  t.notOk(isRunnable(rec('X', { next: T0 + 1 }), T0, byId), 'backoff not over');
  t.ok(isRunnable(rec('X', { next: T0 }), T0, byId), 'backoff over');
  for (const state of ['DONE', 'FAILED', 'CANCELLED', 'AWAITING_HUMAN'] as const) t.notOk(isRunnable(rec('X', { state }), T0, byId), state);
  const running = { ...rec('X', { state: 'IMPLEMENTING' }), attempts: [{ n: 1, phase: 'implement' as const, started_at: new Date(T0).toISOString(), artifacts_dir: 'r' }] };
  t.notOk(isRunnable(running, T0, byId), 'an attempt still open');
  t.ok(isRunnable({ ...running, attempts: [{ ...running.attempts[0]!, ended_at: new Date(T0).toISOString() }] }, T0, byId));
});

t.test('runnable tasks are ordered by priority, then age, then id', async t => {
  const ordered = orderRunnable([
    rec('old-low', { created: T0 }),
    rec('new-high', { priority: 5, created: T0 + 10 }),
    rec('b-same', { created: T0 + 5 }),
    rec('a-same', { created: T0 + 5 }),
    rec('negative', { priority: -1, created: T0 - 100 }),
    rec('old-high', { priority: 5, created: T0 - 10 }),
  ]);
  t.same(ordered.map(r => r.id), ['old-high', 'new-high', 'old-low', 'a-same', 'b-same', 'negative']);
});

t.test('dependency cycles are found, each named once from its smallest id', async t => {
  t.same(findDependencyCycles([{ id: 'A', depends_on: ['B'] }, { id: 'B', depends_on: ['C'] }, { id: 'C' }]), []);
  t.same(
    findDependencyCycles([
      { id: 'C', depends_on: ['A'] },
      { id: 'A', depends_on: ['B'] },
      { id: 'B', depends_on: ['C', 'UNKNOWN'] },
      { id: 'S', depends_on: ['S'] },
      { id: 'X', depends_on: ['Y'] },
      { id: 'Y', depends_on: ['X', 'A'] },
      { id: 'Z', depends_on: ['A'] },
    ]),
    [['A', 'B', 'C'], ['S'], ['X', 'Y']],
  );
  t.throws(() => assertNoDependencyCycles([{ id: 'A', depends_on: ['B'] }, { id: 'B', depends_on: ['A'] }]), {
    code: 'ORCH_DEPENDENCY_CYCLE',
    message: 'Dependency cycle: A → B → A',
    details: { cycles: [['A', 'B']] },
  });
  t.doesNotThrow(() => assertNoDependencyCycles([{ id: 'A' }]));
});

t.test('a long dependency chain does not overflow the stack', async t => {
  const chain = Array.from({ length: 20_000 }, (_, i) => ({ id: `T${i}`, depends_on: i === 0 ? ['T19999'] : [`T${i - 1}`] }));
  const cycles = findDependencyCycles(chain);
  t.equal(cycles.length, 1);
  t.equal(cycles[0]?.length, 20_000);
});
