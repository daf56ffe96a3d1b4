import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { runCli, ORCH_BIN } from '../fixtures/run-cli.js';
import { waitFor, isAlive } from '../fixtures/wait-for.js';
import { checkRunLog } from '../fixtures/run-log-checker.js';

const record = (root: string, id: string): TaskRecord | undefined => {
  const path = join(root, '.isollm/state/tasks', `${id}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TaskRecord) : undefined;
};
const implementOnly = { implement: { command: [process.execPath, STUB_AGENT] as [string, ...string[]] }, retry: { base_delay_s: 0.05, jitter: 0 } };

function startOrch(args: string[], cwd: string): ChildProcess {
  const child = spawn(process.execPath, [ORCH_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

t.test('kill -9 of a running orchestrator, then orch --resume: every task finishes, no orphan survives, the log says so', async t => {
  const dir = t.testdir();
  const pids = join(dir, 'pids');
  const env = (actions: string[]) => script({ implement: actions }, { STUB_DIR: dir, STUB_PIDS: pids });
  const root = makeProject(join(dir, 'p'), {
    workflow: implementOnly,
    tasks: { A: { goal: 'a', env: env(['sleep', 'ok']) }, B: { goal: 'b', env: env(['sleep', 'ok']) }, C: { goal: 'c', depends_on: ['A'] } },
  });
  const first = startOrch(['--once'], root);
  t.teardown(() => first.kill('SIGKILL'));
  await waitFor('A and B to be running', () => record(root, 'A')?.attempts.at(-1)?.process !== undefined && record(root, 'B')?.attempts.at(-1)?.process !== undefined);
  const orphans = await waitFor('4 stub pids (2 agents, 2 grandchildren)', () => {
    const list = existsSync(pids) ? readFileSync(pids, 'utf8').trim().split('\n').map(Number).filter(n => n > 0) : [];
    return list.length >= 4 && list;
  });
  first.kill('SIGKILL');
  await new Promise(resolve => first.once('exit', resolve));
  t.ok(orphans.every(isAlive), 'the dead run left its commands running (their own process groups)');

  const resumed = await runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  t.match(resumed.stdout, /previous run had ended abnormally/);
  for (const id of ['A', 'B', 'C']) t.equal(record(root, id)?.state, 'DONE', `${id} is DONE`);
  t.ok(orphans.every(pid => !isAlive(pid)), 'no process started by the dead run is alive');
  const a = record(root, 'A');
  t.same(a?.attempts.map(x => x.reason), ['interrupted', 'succeeded']);
  t.equal(a?.counters.interruptions, 1);
  const log = readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8');
  const check = checkRunLog(log);
  t.same(check.problems, [], 'the run log reads cleanly');
  t.same([check.runs, check.closedRuns], [2, 1]);
  t.match(log, /\*\*Note\*\*: The previous run \(\S+\) ended abnormally/);
});

t.test('two orchestrators started at once on one dir: exactly one runs, the other exits 3 naming the holder', async t => {
  const root = makeProject(t.testdir(), { workflow: implementOnly, tasks: { S: { goal: 's', env: script({ implement: ['sleep'] }) } } });
  const a = startOrch([], root);
  const b = startOrch([], root);
  t.teardown(() => {
    a.kill('SIGKILL');
    b.kill('SIGKILL');
  });
  let stderr = '';
  const loser = await Promise.race(
    [a, b].map(
      child =>
        new Promise<ChildProcess>(resolve => {
          child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.once('exit', () => resolve(child));
        }),
    ),
  );
  t.equal(loser.exitCode, 3);
  t.match(stderr, /pid \d+ on \S+ since/);
  const winner = loser === a ? b : a;
  await waitFor('the winner to run S', () => record(root, 'S')?.attempts.at(-1)?.process !== undefined);
  const pid = record(root, 'S')?.attempts.at(-1)?.process?.pid ?? 0;
  winner.kill('SIGTERM');
  await new Promise(resolve => winner.once('exit', resolve));
  t.equal(winner.exitCode, 0, 'SIGTERM ends the run cleanly');
  t.notOk(isAlive(pid), 'and stops its command');
  t.equal(record(root, 'S')?.attempts.at(-1)?.reason, 'interrupted');
  t.same(checkRunLog(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8')).closedRuns, 1, 'the section is closed with its summary');
});

t.test('orch --once exits 1 when a task failed, and 2 on a bad config', async t => {
  const root = makeProject(t.testdir(), { workflow: { ...implementOnly, retry: { max_attempts: 1 } }, tasks: { F: { goal: 'f', env: script({ implement: ['fatal'] }) } } });
  const failed = await runCli(['--once'], { cwd: root });
  t.equal(failed.code, 1);
  t.match(failed.stdout, /1 failed/);
  const bad = makeProject(t.testdir(), { config: { workers: 99 } });
  const result = await runCli(['--once'], { cwd: bad });
  t.equal(result.code, 2);
  t.match(result.stderr, /workers/);
});
