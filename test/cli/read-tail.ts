import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { makeProject } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';

const GATE_AGENT = fileURLToPath(new URL('../fixtures/read-agent-gate.mjs', import.meta.url));

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 25));
  }
}

interface Live {
  stdout: () => string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** orch in a child whose output can be watched while it runs. */
function orchLive(t: Test, args: string[], cwd: string): Live {
  const child = spawn(process.execPath, [ORCH_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  exited.then(code => {
    if (code !== 0) t.comment(`orch ${args.join(' ')} exited ${code}: ${err}`);
  });
  return { stdout: () => out, exited, kill: signal => child.kill(signal) };
}

/** The project dir and, beside it, where the agents' gate files go. */
function dirs(t: Test): { root: string; gates: string } {
  const base = t.testdir();
  const gates = join(base, 'gates');
  mkdirSync(gates);
  return { root: join(base, 'project'), gates };
}

/** Opens every gate so the agents end, and waits for the engine: nothing outlives the test. */
async function finish(gates: string, ids: string[], engine: Promise<unknown>): Promise<void> {
  for (const id of ids) writeFileSync(join(gates, `gate-${id}`), '');
  await engine.catch(() => undefined);
}

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));
const running = (root: string, id: string): boolean => {
  try {
    return record(root, id).attempts.some(a => a.ended_at === undefined);
  } catch {
    return false;
  }
};

t.test('tail -f follows a running attempt to its end, without losing or repeating output; status shows it running', async t => {
  // Registered before the test dir exists, so it runs before tap removes the dir.
  let release = async (): Promise<void> => undefined;
  t.teardown(() => release());
  const { root, gates } = dirs(t);
  makeProject(root, {
    workflow: { implement: { command: [process.execPath, GATE_AGENT, join(gates, 'gate-{{task.id}}')] } },
    tasks: { T1: { title: 'first', goal: 'tick' }, T2: { title: 'second', goal: 'tick too' } },
  });
  const engine = runOnce(root);
  release = () => finish(gates, ['T1', 'T2'], engine);
  await waitFor('both tasks to have a running attempt', () => running(root, 'T1') && running(root, 'T2'));

  const status = await runCli(['status', '--json'], { cwd: root });
  const report = JSON.parse(status.stdout) as { session: { state: string; pid: number }; tasks: { id: string; activity: string; worker: string | null; phase: string }[] };
  t.equal(report.session.state, 'running');
  t.equal(report.session.pid, process.pid, 'the orchestrator is this test process');
  t.match(report.tasks, [{ id: 'T1', activity: 'running', phase: 'implement', worker: /^w\d$/ }, { id: 'T2', activity: 'running', worker: /^w\d$/ }]);

  const follow = orchLive(t, ['tail', '-f', 'T1'], root);
  await waitFor('tail -f to print tick 8', () => follow.stdout().includes('tick 8\n'));
  writeFileSync(join(gates, 'gate-T1'), '');
  t.equal(await follow.exited, 0, 'tail -f ends by itself when the attempt ends');
  const out = follow.stdout();
  t.match(out, /^==> T1 #1 implement S1 stdout <==\ntick 1\n/);
  t.match(out, /==> T1 #1 implement S1 stderr <==\nwarn 5\n/);
  t.match(out, /done\n(==> T1 #1 implement S1 stderr <==\n(warn \d+\n)*)?==> T1 #1 implement S1: ended: succeeded, exit 0 <==\n$/);
  const ticks = [...out.matchAll(/^tick (\d+)$/gm)].map(m => Number(m[1]));
  t.same(ticks, Array.from({ length: ticks.length }, (_, i) => i + 1), `every tick once, in order (${ticks.length} ticks)`);
  const logged = readFileSync(join(root, '.isollm', record(root, 'T1').attempts[0]?.artifacts_dir ?? '', 'stdout.log'), 'utf8');
  t.equal(ticks.length, [...logged.matchAll(/^tick /gm)].length, 'as many ticks as the attempt wrote');
});

t.test('tail -f with no id follows every running attempt; --json gives one object a line; Ctrl+C stops it with exit 0', async t => {
  // Registered before the test dir exists, so it runs before tap removes the dir.
  let release = async (): Promise<void> => undefined;
  t.teardown(() => release());
  const { root, gates } = dirs(t);
  makeProject(root, {
    workflow: { implement: { command: [process.execPath, GATE_AGENT, join(gates, 'gate-{{task.id}}')] } },
    tasks: { A: { goal: 'a' }, B: { goal: 'b' } },
  });
  const engine = runOnce(root);
  release = () => finish(gates, ['A', 'B'], engine);
  await waitFor('both tasks to have a running attempt', () => running(root, 'A') && running(root, 'B'));
  const follow = orchLive(t, ['tail', '-f', '--json'], root);
  await waitFor('output of both attempts', () => /"task_id":"A".*"stream":"stdout"/.test(follow.stdout()) && /"task_id":"B".*"stream":"stdout"/.test(follow.stdout()));
  follow.kill('SIGINT');
  t.equal(await follow.exited, 0, 'Ctrl+C ends tail -f cleanly');
  const lines = follow.stdout().trim().split('\n').map(line => JSON.parse(line) as { task_id: string; n: number; stream: string; text: string });
  t.ok(lines.every(line => ['A', 'B'].includes(line.task_id) && line.n === 1 && ['stdout', 'stderr'].includes(line.stream) && typeof line.text === 'string'), 'every line is a JSON chunk');
  for (const id of ['A', 'B']) writeFileSync(join(gates, `gate-${id}`), '');
  const result = await engine;
  t.same(result.done.sort(), ['A', 'B']);
});
