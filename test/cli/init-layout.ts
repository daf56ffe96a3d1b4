// The two layouts of PRODUCT.md §2 (specs/files.md): `.isollm/`, and `orchestrator/` with its state in
// `orchestrator/state/`; and what a project left in the old, wrong orchestrator layout is told.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../fixtures/run-cli.js';

t.jobs = 1; // real files and real processes: one at a time on 2 cores

const QUICK_CONFIG = { version: 1, project: 'layout-test', workers: 1, workflows: { default: { run: [process.execPath, '-e', 'process.exit(0)'] } } };

t.test('orch init --layout orchestrator/state keeps config and specs in orchestrator/ and records, workers and session in orchestrator/state/', async t => {
  const root = t.testdir({ '.gitignore': '' });
  const init = await runCli(['init', '--layout', 'orchestrator/state', '--agent', 'none'], { cwd: root });
  t.equal(init.code, 0, init.stderr);
  t.ok(existsSync(join(root, 'orchestrator/config.json')), 'config in orchestrator/');
  for (const dir of ['tasks', 'inbox', 'runs', 'schemas', 'examples', 'state/tasks', 'state/workers']) {
    t.ok(readdirSync(join(root, 'orchestrator', dir)), `orchestrator/${dir} exists`);
  }
  t.notOk(existsSync(join(root, 'orchestrator/state/state')), 'no state/ inside the state dir');
  t.notOk(existsSync(join(root, 'orchestrator/state/config.json')), 'no config inside the state dir');
  t.notOk(existsSync(join(root, '.isollm')), 'no .isollm/');
  const gitignore = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
  t.ok(gitignore.includes('orchestrator/state/'), 'the state is ignored');
  t.notOk(gitignore.some(line => line.startsWith('orchestrator/state/state')), 'no entry for the wrong tree');
  t.notOk(gitignore.includes('orchestrator/tasks/'), 'the specs are not ignored');
  const vscode = readFileSync(join(root, '.vscode/settings.json'), 'utf8');
  t.match(vscode, '/orchestrator/tasks/*.json');
  t.match(vscode, './orchestrator/schemas/task-spec.schema.json');

  writeFileSync(join(root, 'orchestrator/config.json'), JSON.stringify(QUICK_CONFIG));
  writeFileSync(join(root, 'orchestrator/tasks/T1.json'), JSON.stringify({ goal: 'runs in the orchestrator layout' }));
  const run = await runCli(['--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  const record = JSON.parse(readFileSync(join(root, 'orchestrator/state/tasks/T1.json'), 'utf8'));
  t.equal(record.state, 'DONE');
  t.equal(record.spec_file, 'tasks/T1.json');
  t.ok(existsSync(join(root, 'orchestrator/state/session.json')), 'session in orchestrator/state/');
  t.ok(readdirSync(join(root, 'orchestrator/state/workers')).length > 0, 'workers in orchestrator/state/workers/');
  t.notOk(existsSync(join(root, 'orchestrator/state/state')), 'the run made no state/ inside the state dir');

  mkdirSync(join(root, 'src/deep'), { recursive: true });
  const status = await runCli(['status', '--json'], { cwd: join(root, 'src/deep') });
  t.equal(status.code, 0, status.stderr);
  t.match(JSON.parse(status.stdout), { state_dir: 'orchestrator' });
  const show = await runCli(['show', 'T1', '--json'], { cwd: root });
  t.equal(show.code, 0, show.stderr);
  t.match(JSON.parse(show.stdout), { state: 'DONE', spec_file: 'orchestrator/tasks/T1.json' });
  const validate = await runCli(['validate'], { cwd: root });
  t.equal(validate.code, 0, `${validate.stdout}${validate.stderr}`);
});

t.test('orch init keeps .isollm/ exactly as it was: config, specs and state/ inside it', async t => {
  const root = t.testdir();
  t.equal((await runCli(['init', '--agent', 'none'], { cwd: root })).code, 0);
  for (const path of ['config.json', 'tasks', 'inbox', 'runs', 'schemas', 'examples', 'state/tasks', 'state/workers']) {
    t.ok(existsSync(join(root, '.isollm', path)), `.isollm/${path}`);
  }
  t.notOk(existsSync(join(root, 'orchestrator')));
});

t.test('a project in the old orchestrator layout (everything inside orchestrator/state/) is refused with what to move, and runs once moved', async t => {
  const root = t.testdir();
  // The old layout was the .isollm/ tree under the name orchestrator/state/: make one that way.
  t.equal((await runCli(['init', '--agent', 'none'], { cwd: root })).code, 0);
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify(QUICK_CONFIG));
  writeFileSync(join(root, '.isollm/tasks/T1.json'), JSON.stringify({ goal: 'made before the layout was fixed' }));
  t.equal((await runCli(['--once'], { cwd: root, timeoutMs: 60_000 })).code, 0);
  mkdirSync(join(root, 'orchestrator'));
  renameSync(join(root, '.isollm'), join(root, 'orchestrator/state'));

  for (const args of [['status'], ['--once'], ['validate'], ['init', '--layout', 'orchestrator/state']]) {
    const result = await runCli(args, { cwd: root });
    t.equal(result.code, 2, `orch ${args.join(' ')} exits 2`);
    t.match(result.stderr, /orchestrator\/state\/ holds the old layout/, `orch ${args.join(' ')} says why`);
    t.match(result.stderr, /orchestrator\/state\/config\.json/, 'names the config to move');
    t.match(result.stderr, /mv state old-state && mv old-state\/state state && mv old-state\/\* \. && rmdir old-state/, 'says how to move it');
    t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
  t.notOk(existsSync(join(root, 'orchestrator/config.json')), 'init wrote nothing');
  t.notOk(existsSync(join(root, 'orchestrator/tasks')), 'init wrote nothing');

  // The moves the message names, done by hand: the records need no change.
  const dir = join(root, 'orchestrator');
  renameSync(join(dir, 'state'), join(dir, 'old-state'));
  renameSync(join(dir, 'old-state/state'), join(dir, 'state'));
  for (const name of readdirSync(join(dir, 'old-state'))) renameSync(join(dir, 'old-state', name), join(dir, name));
  const show = await runCli(['show', 'T1', '--json'], { cwd: root });
  t.equal(show.code, 0, show.stderr);
  t.match(JSON.parse(show.stdout), { state: 'DONE', spec_file: 'orchestrator/tasks/T1.json' });
  const validate = await runCli(['validate'], { cwd: root });
  t.equal(validate.code, 0, `${validate.stdout}${validate.stderr}`);
});
