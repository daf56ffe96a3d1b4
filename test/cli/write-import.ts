import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';

const specNames = (root: string): string[] => readdirSync(join(root, '.isollm/tasks')).filter(n => n.endsWith('.json')).sort();

t.test('orch --tasks DIR imports a folder of JSON specs and exits 0; importing again changes nothing', async t => {
  const base = t.testdir({ incoming: { 'fix-login.json': JSON.stringify({ goal: 'fix the login' }), 'docs.json': JSON.stringify({ id: 'write-docs', title: 'Docs' }) } });
  const root = makeProject(join(base, 'project'));
  const out = await runCli(['--tasks', join(base, 'incoming')], { cwd: root });
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /imported fix-login → \.isollm\/tasks\/fix-login\.json/);
  t.match(out.stdout, /imported write-docs → \.isollm\/tasks\/write-docs\.json/);
  t.match(out.stdout, /2 imported, 0 unchanged, 0 refused/);
  t.same(specNames(root), ['fix-login.json', 'write-docs.json']);
  const again = await runCli(['import', join(base, 'incoming')], { cwd: root });
  t.equal(again.code, 0);
  t.match(again.stdout, /0 imported, 2 unchanged, 0 refused/);
  t.equal((await runCli(['validate'], { cwd: root })).code, 0, 'the imported specs validate');
});

t.test('orch --tasks tasks.yaml imports the good items and exits 2 naming each bad one with its index and JSON path', async t => {
  const base = t.testdir({
    '.orchestrator': {
      'tasks.yaml': 'tasks:\n  - id: RAE-001\n    title: Implement search strategies\n    risk: high\n  - id: RAE-002\n    goal: tune ranking\n    risk: extreme\n  - id: ../escape\n    goal: nope\n  - id: RAE-003\n    goal: write tests\n    depends_on: [RAE-001]\n',
    },
  });
  const root = makeProject(join(base, 'project'));
  const file = join(base, '.orchestrator/tasks.yaml');
  const out = await runCli(['--tasks', file], { cwd: root });
  t.equal(out.code, 2, out.stdout + out.stderr);
  t.match(out.stdout, /refused .*tasks\.yaml#\/tasks\/1: item 1: \/tasks\/1\/risk: /);
  t.match(out.stdout, /refused .*tasks\.yaml#\/tasks\/2: item 2: \/tasks\/2\/id: /);
  t.match(out.stdout, /2 imported, 0 unchanged, 2 refused/);
  t.same(specNames(root), ['RAE-001.json', 'RAE-003.json']);
  t.same(JSON.parse(readFileSync(join(root, '.isollm/tasks/RAE-003.json'), 'utf8')), { id: 'RAE-003', goal: 'write tests', depends_on: ['RAE-001'] });

  const json = await runCli(['import', file, '--json'], { cwd: root });
  t.equal(json.code, 2);
  const report = JSON.parse(json.stdout);
  t.same(report.unchanged.map((i: { id: string }) => i.id), ['RAE-001', 'RAE-003']);
  t.match(report.refused, [{ index: 1, problems: [{ path: '/tasks/1/risk' }] }, { index: 2, problems: [{ path: '/tasks/2/id' }] }]);

  const missing = await runCli(['--tasks', join(base, 'nope.yaml')], { cwd: root });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no such file or folder/);
});
