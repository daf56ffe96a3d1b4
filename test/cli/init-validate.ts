import t from 'tap';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../fixtures/run-cli.js';

t.test('orch init creates the tree, a valid config, an example task and .gitignore entries, and is idempotent', async t => {
  const root = t.testdir({ '.gitignore': 'node_modules/\n' });
  const first = await runCli(['init'], { cwd: root });
  t.equal(first.code, 0, first.stderr);
  for (const dir of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs', 'schemas']) {
    t.ok(readdirSync(join(root, '.isollm', dir)), `.isollm/${dir} exists`);
  }
  const config = JSON.parse(readFileSync(join(root, '.isollm/config.json'), 'utf8'));
  t.equal(config.version, 1);
  t.equal(config.$schema, './schemas/config.schema.json');
  const gitignore = readFileSync(join(root, '.gitignore'), 'utf8');
  t.match(gitignore, /^node_modules\/\n/);
  t.match(gitignore, /\.isollm\/state\//);

  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({ ...config, workers: 5 }));
  const second = await runCli(['init'], { cwd: root });
  t.equal(second.code, 0);
  t.match(second.stdout, /nothing to do/);
  t.equal(JSON.parse(readFileSync(join(root, '.isollm/config.json'), 'utf8')).workers, 5, 'a user config is never overwritten');
  t.equal(readFileSync(join(root, '.gitignore'), 'utf8'), gitignore, '.gitignore entries are added once');

  const example = join(root, '.isollm/examples/example-task.json');
  const check = await runCli(['validate', example], { cwd: root });
  t.equal(check.code, 0, `the example task is valid: ${check.stdout}${check.stderr}`);
});

t.test('orch validate reports every problem at once with file:line:column or a JSON path, and exits 2', async t => {
  const root = t.testdir();
  t.equal((await runCli(['init'], { cwd: root })).code, 0);
  const tasks = join(root, '.isollm/tasks');
  writeFileSync(join(tasks, 'syntax.json'), '{\n  "goal": "x"\n  "priority": 1\n}\n');
  writeFileSync(join(tasks, 'schema.json'), JSON.stringify({ goal: 'y', priority: 'high', bogus: 1 }));
  writeFileSync(join(tasks, 'unsafe.json'), JSON.stringify({ goal: 'z', id: '../escape' }));
  writeFileSync(join(tasks, 'good.json'), JSON.stringify({ title: 'fine' }));
  writeFileSync(join(tasks, 'deps.json'), JSON.stringify({ title: 'waits', depends_on: ['missing'] }));
  const result = await runCli(['validate'], { cwd: join(root, '.isollm', 'tasks') });
  t.equal(result.code, 2);
  t.match(result.stdout, /syntax\.json:3:3: invalid JSON/);
  t.match(result.stdout, /schema\.json \/: unknown field "bogus"/);
  t.match(result.stdout, /schema\.json \/priority: must be integer/);
  t.match(result.stdout, /unsafe\.json \/id: is not a valid id/);
  t.match(result.stdout, /deps\.json \/depends_on\/0: depends on "missing"/);
  t.notMatch(result.stdout, /good\.json/);

  const json = await runCli(['validate', '--json'], { cwd: root });
  t.equal(json.code, 2);
  const report = JSON.parse(json.stdout);
  t.equal(report.errors, 5);
  const syntax = report.files.find((f: { file: string }) => f.file.endsWith('syntax.json'));
  t.match(syntax.problems[0], { code: 'ORCH_INVALID_JSON', line: 3, column: 3 });
});

t.test('a record of a newer version is refused by validate with both versions named', async t => {
  const root = t.testdir();
  await runCli(['init'], { cwd: root });
  const record = join(root, '.isollm/state/tasks/T1.json');
  writeFileSync(record, JSON.stringify({ version: 99, id: 'T1' }));
  const result = await runCli(['validate', record], { cwd: root });
  t.equal(result.code, 2);
  t.match(result.stdout, /version 99.*up to version 1/);
});

t.test('without a state dir, commands say how to create one and exit 2', async t => {
  const root = t.testdir();
  const result = await runCli(['validate'], { cwd: root });
  t.equal(result.code, 2);
  t.match(result.stderr, /no \.isollm\/.*found/);
  t.match(result.stderr, /orch init/);
  t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace without --verbose');
});

t.test('bad usage exits 2 and --help shows examples', async t => {
  const root = t.testdir();
  t.equal((await runCli(['frobnicate'], { cwd: root })).code, 2);
  const help = await runCli(['--help'], { cwd: root });
  t.equal(help.code, 0);
  t.match(help.stdout, /Examples:/);
});

t.test('a config without "version" is taken as version 1: validate and the run warn once, and the file is not rewritten', async t => {
  const root = t.testdir();
  t.equal((await runCli(['init', '--agent', 'none'], { cwd: root })).code, 0);
  const configPath = join(root, '.isollm/config.json');
  const text = JSON.stringify({ project: 'no-version', workflows: { default: { run: [process.execPath, '-e', 'process.exit(0)'] } } }, null, 2);
  writeFileSync(configPath, text);
  writeFileSync(join(root, '.isollm/tasks/T1.json'), JSON.stringify({ goal: 'runs under a config without version' }));
  const warning = /no "version": taken as version 1/g;

  const validate = await runCli(['validate'], { cwd: root });
  t.equal(validate.code, 0, `a warning, not an error: ${validate.stdout}${validate.stderr}`);
  t.equal(validate.stdout.match(warning)?.length, 1, `validate says so once: ${validate.stdout}`);
  t.match(validate.stdout, /warning: .*config\.json \/version: no "version"/);
  const json = JSON.parse((await runCli(['validate', '--json'], { cwd: root })).stdout);
  t.match(json, { errors: 0, warnings: 1 });

  const run = await runCli(['--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  t.equal(`${run.stdout}${run.stderr}`.match(warning)?.length, 1, `the run says so once: ${run.stdout}${run.stderr}`);
  t.equal(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8').match(warning)?.length, 1, 'the run log says so once');
  t.equal(JSON.parse(readFileSync(join(root, '.isollm/state/tasks/T1.json'), 'utf8')).state, 'DONE');
  const status = await runCli(['status'], { cwd: root });
  t.equal(status.code, 0, status.stderr);
  t.equal(readFileSync(configPath, 'utf8'), text, 'the config is the human\'s: never rewritten');
});
