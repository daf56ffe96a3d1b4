import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { identityOf } from '../../src/store/process-identity.js';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';

const SESSION_SLEEP = fileURLToPath(new URL('../fixtures/session-sleep.mjs', import.meta.url));
const OLD_RUNS = Array.from({ length: 6 }, (_, i) => `2025-02-0${i + 1}T08-00-00-000Z-0b0${i}`);

async function finishedProject(dir: string): Promise<string> {
  const root = makeProject(dir, { workflow: { implement: { command: [process.execPath, '-e', 'process.exit(0)'] } }, tasks: { T1: { goal: 'one' }, T2: { goal: 'two' } } });
  await runOnce(root);
  for (const run of OLD_RUNS) {
    mkdirSync(join(root, '.isollm/runs', run, 'T1'), { recursive: true });
    writeFileSync(join(root, '.isollm/runs', run, 'T1', 'out.log'), 'old output\n');
  }
  return root;
}

const runs = (root: string): string[] => readdirSync(join(root, '.isollm/runs')).sort();

t.test('orch clean asks for --yes without a terminal, then keeps the N newest runs', async t => {
  const root = await finishedProject(t.testdir());
  const all = runs(root);
  t.equal(all.length, OLD_RUNS.length + 1);

  const refused = await runCli(['clean'], { cwd: root });
  t.equal(refused.code, 2);
  t.match(refused.stdout, /orch clean will remove 2 item\(s\)/);
  t.match(refused.stderr, /no terminal to ask on/);
  t.match(refused.stderr, /pass --yes/);
  t.same(runs(root), all, 'nothing removed');

  const kept = await runCli(['clean', '--yes', '--keep', '3'], { cwd: root });
  t.equal(kept.code, 0, kept.stderr);
  t.match(kept.stdout, /removed 4 item\(s\), .*; kept 3 run\(s\)/);
  t.same(runs(root), all.slice(-3), 'the 3 newest stay');

  const json = await runCli(['clean', '--yes', '--keep', '1', '--json'], { cwd: root });
  t.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.same(report.removed.map((p: string) => p.split('/').at(-1)).sort(), all.slice(-3, -1));
  t.same(runs(root), all.slice(-1));
  t.same(readdirSync(join(root, '.isollm/tasks')).sort(), ['T1.json', 'T2.json'], 'specs untouched');
  t.same(readdirSync(join(root, '.isollm/state/tasks')).filter(n => n.endsWith('.json')).sort(), ['T1.json', 'T2.json'], 'records untouched');

  const nothing = await runCli(['clean'], { cwd: root });
  t.equal(nothing.code, 0);
  t.match(nothing.stdout, /nothing to clean/);
  const bad = await runCli(['clean', '--yes', '--keep', 'many'], { cwd: root });
  t.equal(bad.code, 2);
});

t.test('orch --clean-state refuses (exit 3) while a live orch holds the dir, and with --yes otherwise makes every task start over', async t => {
  const root = await finishedProject(t.testdir());
  const sessionFile = join(root, '.isollm/state/session.json');
  const session = JSON.parse(readFileSync(sessionFile, 'utf8')) as SessionRecord;
  const holder = spawn(process.execPath, [SESSION_SLEEP], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise<void>(resolve => holder.stdout.once('data', () => resolve()));
  const identity = identityOf(holder.pid ?? 0);
  if (identity === undefined) throw new Error('the holder is not in /proc');
  writeFileSync(sessionFile, JSON.stringify({ ...session, status: 'running', owner: { ...identity, run_id: session.run_id } }, null, 2));

  for (const args of [['--clean-state', '--yes'], ['clean-state', '--yes']]) {
    const held = await runCli(args, { cwd: root });
    t.equal(held.code, 3, `${args.join(' ')}: ${held.stderr}`);
    t.match(held.stderr, new RegExp(`a live orch holds this state dir: pid ${holder.pid} on .* since ${session.started_at}`));
  }
  t.ok(existsSync(join(root, '.isollm/state/tasks/T1.json')), 'nothing removed while held');

  holder.stdin.end();
  await new Promise(resolve => holder.once('exit', resolve));
  const ask = await runCli(['--clean-state'], { cwd: root });
  t.equal(ask.code, 2, 'no terminal, no --yes');
  t.match(ask.stderr, /pass --yes/);
  t.ok(existsSync(join(root, '.isollm/state/tasks/T1.json')));

  const done = await runCli(['--clean-state', '--yes'], { cwd: root });
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /cleaned \d+ item\(s\); every task starts over/);
  t.same(readdirSync(join(root, '.isollm/state/tasks')), []);
  t.same(readdirSync(join(root, '.isollm/runs')), []);
  t.notOk(existsSync(join(root, '.isollm/events.jsonl')));
  t.same(readdirSync(join(root, '.isollm/tasks')).sort(), ['T1.json', 'T2.json'], 'specs stay');
  const after = JSON.parse(readFileSync(sessionFile, 'utf8')) as SessionRecord;
  t.ok(after.epoch > session.epoch && after.status === 'stopped', 'session.json stays, its epoch raised');
});
