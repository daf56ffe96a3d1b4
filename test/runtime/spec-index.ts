import t from 'tap';
import { SpecIndex } from '../../src/runtime/spec-index.js';
import type { LoadedSpec } from '../../src/store/specs.js';

function spec(id: string, name: string, dependsOn?: string[]): LoadedSpec {
  return { id, path: `/p/tasks/${name}`, spec: { goal: id, ...(dependsOn !== undefined && { depends_on: dependsOn }) }, hash: `${id}-${name}` };
}

t.test('specs are indexed by id one file at a time; a file gone or failing drops its spec', async t => {
  const index = new SpecIndex('/p/tasks');
  const a = spec('A', 'A.json');
  index.update('A.json', a);
  index.update('B.json', spec('B', 'B.json'));
  t.same([...index.byId.keys()].sort(), ['A', 'B']);
  index.update('B.json', undefined);
  t.same([...index.byId.keys()], ['A']);
  const renamed = spec('C', 'A.json');
  index.update('A.json', renamed);
  t.same([...index.byId.keys()], ['C'], 'a file whose id field changed moves to the new id');
});

t.test('two files naming one id are both refused, and the survivor comes back when one goes', async t => {
  const index = new SpecIndex('/p/tasks');
  index.update('x.json', spec('X', 'x.json'));
  index.update('y.json', spec('X', 'y.json'));
  t.notOk(index.byId.has('X'));
  t.same(index.duplicates().map(f => f.path), ['/p/tasks/x.json', '/p/tasks/y.json']);
  t.match(index.duplicates()[0]?.error.message, /task id "X" is also used by \/p\/tasks\/y\.json/);
  index.update('y.json', undefined);
  t.same(index.byId.get('X'), spec('X', 'x.json'));
  t.same(index.duplicates(), []);
});

t.test('the dependency version moves only when a spec with dependencies changes', async t => {
  const index = new SpecIndex('/p/tasks');
  index.update('a.json', spec('A', 'a.json'));
  const before = index.dependencyVersion;
  index.update('b.json', spec('B', 'b.json'));
  t.equal(index.dependencyVersion, before, 'no dependencies: cycles cannot have changed');
  index.update('c.json', spec('C', 'c.json', ['A']));
  t.ok(index.dependencyVersion > before);
  const after = index.dependencyVersion;
  index.update('c.json', spec('C', 'c.json'));
  t.ok(index.dependencyVersion > after, 'dependencies removed count too');
});

t.test('a summary counts as its spec: its dependencies move the version, two of one id are refused with their paths', async t => {
  const index = new SpecIndex('/p/tasks');
  index.update('a.json', { summarized: true, id: 'A', name: 'a.json', hash: 'h' });
  const before = index.dependencyVersion;
  index.update('c.json', { summarized: true, id: 'C', name: 'c.json', hash: 'h', depends_on: ['A'] });
  t.ok(index.dependencyVersion > before);
  index.update('d.json', { summarized: true, id: 'C', name: 'd.json', hash: 'h' });
  t.same(index.duplicates().map(f => f.path), ['/p/tasks/c.json', '/p/tasks/d.json']);
});
