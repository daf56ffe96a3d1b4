import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { importTasks } from '../../src/project/import-tasks.js';
import { statePaths } from '../../src/store/paths.js';
import { loadSpecs } from '../../src/store/specs.js';
import { makeProject } from '../fixtures/project.js';

const specNames = (root: string): string[] => readdirSync(join(root, '.isollm/tasks')).filter(n => n.endsWith('.json')).sort();

t.test('a folder of JSON files: each good file becomes a spec, byte for byte; each bad one is reported with its reason', async t => {
  const base = t.testdir({ source: {
    'alpha.json': '{\n  "$comment": "kept as written",\n  "goal": "first"\n}\n',
    'named.json': JSON.stringify({ id: 'B2', title: 'second' }),
    'schema.json': JSON.stringify({ goal: 'x', priority: 'high' }),
    'syntax.json': '{\n  "goal": "x",\n}\n',
    'not safe.json': JSON.stringify({ goal: 'bad name' }),
    'notes.txt': 'ignored',
  } });
  const root = makeProject(join(base, 'project'));
  const source = join(base, 'source');
  const report = await importTasks(statePaths(root), source);
  t.same(report.imported.map(i => i.id).sort(), ['B2', 'alpha']);
  t.equal(readFileSync(join(root, '.isollm/tasks/alpha.json'), 'utf8'), '{\n  "$comment": "kept as written",\n  "goal": "first"\n}\n');
  t.same(JSON.parse(readFileSync(join(root, '.isollm/tasks/B2.json'), 'utf8')), { id: 'B2', title: 'second' });
  const refused = Object.fromEntries(report.refused.map(r => [r.source.split('/').at(-1), r]));
  t.match(refused['schema.json'], { code: 'ORCH_SCHEMA_INVALID', problems: [{ path: '/priority' }] });
  t.match(refused['syntax.json'], { code: 'ORCH_INVALID_JSON', message: /syntax\.json:3:1/ });
  t.match(refused['not safe.json'], { code: 'ORCH_UNSAFE_ID' });
  t.equal(report.refused.length, 3);
  t.same((await loadSpecs(join(root, '.isollm/tasks'))).errors, [], 'what was imported loads cleanly');
});

t.test('a YAML file with {tasks: [...]}: good items imported, every bad item reported with its index and JSON path', async t => {
  const dir = t.testdir({
    'tasks.yaml': [
      'tasks:',
      '  - id: Y1',
      '    title: Fetch data',
      '    goal: |',
      '      Download the file',
      '      and store it.',
      '    priority: 5',
      '  - id: Y2',
      '    goal: bad priority',
      '    priority: high',
      '  - goal: has no id',
      '  - id: Y3',
      '    goal: second',
      '    depends_on: [Y1]',
      '  - id: DUP',
      '    goal: one',
      '  - id: DUP',
      '    goal: two',
      '',
    ].join('\n'),
  });
  const root = makeProject(join(dir, 'project'));
  const report = await importTasks(statePaths(root), join(dir, 'tasks.yaml'));
  t.same(report.imported.map(i => i.id), ['Y1', 'Y3']);
  t.same(JSON.parse(readFileSync(join(root, '.isollm/tasks/Y1.json'), 'utf8')), { id: 'Y1', title: 'Fetch data', goal: 'Download the file\nand store it.\n', priority: 5 });
  t.match(report.refused, [
    { index: 1, code: 'ORCH_SCHEMA_INVALID', problems: [{ path: '/tasks/1/priority' }], message: /^item 1: \/tasks\/1\/priority: / },
    { index: 2, problems: [{ path: '/tasks/2/id' }] },
    { index: 4, id: 'DUP', problems: [{ path: '/tasks/4/id', message: /duplicate/ }] },
    { index: 5, id: 'DUP' },
  ]);
  t.same(specNames(root), ['Y1.json', 'Y3.json']);
});

t.test('a top-level JSON or YAML list works too; a syntax error fails the whole file with its line', async t => {
  const dir = t.testdir({
    'list.json': JSON.stringify([{ id: 'J1', goal: 'a' }, { id: 'J2', goal: 'b' }]),
    'list.yml': '- id: L1\n  goal: c\n',
    'broken.yaml': 'tasks:\n  - id: X\n    goal: [unclosed\n',
  });
  const root = makeProject(join(dir, 'project'));
  const paths = statePaths(root);
  t.same((await importTasks(paths, join(dir, 'list.json'))).imported.map(i => i.id), ['J1', 'J2']);
  t.same((await importTasks(paths, join(dir, 'list.yml'))).imported.map(i => i.id), ['L1']);
  await t.rejects(importTasks(paths, join(dir, 'broken.yaml')), { code: 'ORCH_INVALID_YAML', details: { line: Number } });
  await t.rejects(importTasks(paths, join(dir, 'missing.yaml')), { code: 'ORCH_NOT_FOUND' });
});

t.test('an existing spec is never overwritten: the same content is "unchanged", other content or a taken id is refused', async t => {
  const dir = t.testdir({ 'tasks.json': JSON.stringify({ tasks: [{ id: 'SAME', goal: 'same' }, { id: 'DIFF', goal: 'changed' }, { id: 'TAKEN', goal: 'clash' }, { id: 'NEW1', goal: 'fresh' }] }) });
  const root = makeProject(join(dir, 'project'), { tasks: { SAME: { goal: 'same' }, DIFF: { goal: 'original' }, 'other-file': { id: 'TAKEN', goal: 'holds the id' } } });
  const before = readFileSync(join(root, '.isollm/tasks/DIFF.json'), 'utf8');
  const report = await importTasks(statePaths(root), join(dir, 'tasks.json'));
  t.same(report.imported.map(i => i.id), ['NEW1']);
  t.same(report.unchanged.map(i => i.id), ['SAME']);
  t.match(report.refused, [
    { id: 'DIFF', code: 'ORCH_SPEC_EXISTS', message: /already exists with other content/ },
    { id: 'TAKEN', code: 'ORCH_SPEC_EXISTS', message: /already used by .*other-file\.json/ },
  ]);
  t.equal(readFileSync(join(root, '.isollm/tasks/DIFF.json'), 'utf8'), before, 'the existing spec is untouched');

  const again = await importTasks(statePaths(root), join(dir, 'tasks.json'));
  t.same(again.imported, [], 'importing twice imports nothing new');
  t.same(again.unchanged.map(i => i.id).sort(), ['NEW1', 'SAME']);
});

t.test('a file that is not a list, an object with tasks, or a task is refused', async t => {
  const dir = t.testdir({ 'n.json': '42', 't.json': JSON.stringify({ tasks: 'no' }), 'one.json': JSON.stringify({ goal: 'just one' }) });
  const root = makeProject(join(dir, 'project'));
  await t.rejects(importTasks(statePaths(root), join(dir, 'n.json')), { code: 'ORCH_SCHEMA_INVALID' });
  await t.rejects(importTasks(statePaths(root), join(dir, 't.json')), { code: 'ORCH_SCHEMA_INVALID', message: /\/tasks must be a list/ });
  t.same((await importTasks(statePaths(root), join(dir, 'one.json'))).imported.map(i => i.id), ['one'], 'one task: its id is the file name');
});
