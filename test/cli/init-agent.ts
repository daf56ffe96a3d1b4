import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OrchConfig } from '../../src/generated/types.js';
import { runCli } from '../fixtures/run-cli.js';

const BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));
const readConfig = (root: string): OrchConfig => JSON.parse(readFileSync(join(root, '.isollm', 'config.json'), 'utf8')) as OrchConfig;

t.test('orch init --agent codex: every agent phase runs codex through its adapter, and only the checks the project has', async t => {
  const root = t.testdir({ 'package.json': JSON.stringify({ name: 'app', scripts: { test: 'node --test', build: 'tsc' } }) });
  const result = await runCli(['init', '--agent', 'codex'], { cwd: root });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /The config drives codex/);
  const workflow = readConfig(root).workflows?.default;
  t.same(workflow?.implement, { provider: 'codex', retry: { max_attempts: 3 } });
  t.same(workflow?.plan, { provider: 'codex' });
  t.same(workflow?.code_review, { provider: 'codex' });
  t.same(workflow?.quality_gate, { checks: { test: ['npm', 'test'] } }, 'no lint check: the project has no lint script');
  const validate = await runCli(['validate'], { cwd: root, env: { PATH: `${BIN_DIR}:${process.env.PATH ?? ''}` } });
  t.equal(validate.code, 0, validate.stdout + validate.stderr);
});

t.test("orch init without --agent picks the first agent CLI on PATH and says so; npm's placeholder test is no check", async t => {
  const root = t.testdir({ 'package.json': JSON.stringify({ name: 'app', scripts: { test: 'echo "Error: no test specified" && exit 1', lint: 'eslint .' } }) });
  const result = await runCli(['init'], { cwd: root, env: { PATH: `${BIN_DIR}:${process.env.PATH ?? ''}` } });
  t.match(result.stdout, /The config drives claude, the first agent CLI found on PATH/);
  const workflow = readConfig(root).workflows?.default;
  t.same(workflow?.plan, { provider: 'claude_code', model: 'claude-sonnet-4-5' });
  t.same(workflow?.quality_gate, { checks: { lint: ['npm', 'run', 'lint'] } });
});

t.test('orch init with no agent CLI on PATH writes a config that runs only the checks, and says why', async t => {
  const root = t.testdir({});
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app' }));
  const result = await runCli(['init'], { cwd: root, env: { PATH: '/usr/bin:/bin' } });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /No agent CLI \(claude, codex, gemini\) is on PATH/);
  t.same(readConfig(root).workflows?.default, { on_exhausted: 'human' });
  t.match((await runCli(['init', '--agent', 'aider'], { cwd: root })).stderr, /argument 'aider' is invalid|Allowed choices/);
});
