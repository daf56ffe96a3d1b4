// Reproductions of the bugs the torture suite found, each as small and certain as it could be made.
// They are `todo` until fixed (the suite stays green, and says they fail); test/torture/known-bugs.ts
// lists them and docs/reliability.md says how each should be fixed. Drop the `todo` with the fix.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadDocument } from '../../src/store/load.js';
import { waitFor } from '../fixtures/wait-for.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { markedProcesses } from './processes.js';
import { killNow, makeTortureProject, projectPaths, readRecords, runOrch, startOrch } from './project.js';
import { planTasks } from './workload.js';

const REWRITE_LOOP = fileURLToPath(new URL('../fixtures/torture-rewrite-loop.mjs', import.meta.url));
const WRITER = pathToFileURL(fileURLToPath(new URL('../../dist/src/store/durable-write.js', import.meta.url))).href;

/**
 * Starts of the fixture that rewrites a file by rename forever. The loop must be dead (not just
 * signalled) before its directory is removed, or the removal meets a fresh temp file (ENOTEMPTY) and
 * the loop outlives the test: its teardown stops every loop, then removes `removeAfter`.
 */
function rewriteLoops(t: Test, removeAfter?: string): (target: string) => Promise<ChildProcess> {
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    await Promise.all(children.map(child => stopChild(child)));
    if (removeAfter !== undefined) rmSync(removeAfter, { recursive: true, force: true });
  });
  return async target => {
    const child = spawn(process.execPath, [REWRITE_LOOP, WRITER, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise(resolve => child.stdout?.once('data', resolve));
    return child;
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise(resolve => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

t.test('a reader racing the durable writer\'s rename always reads the whole file, never an error', async t => {
  // Not t.testdir(): tap may remove it before the loop writing into it is dead. The loop's teardown
  // stops it, then removes the directory.
  const dir = mkdtempSync(join(tmpdir(), 'orch-read-race-'));
  const rewriteForever = rewriteLoops(t, dir);
  const target = join(dir, 'spec.json');
  writeFileSync(target, JSON.stringify({ version: 1, goal: 'read me while I am replaced' }));
  await rewriteForever(target);
  const failures = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    await loadDocument('spec', target).catch((error: { code?: string; message?: string }) => {
      const key = `${error.code}: ${error.message?.replace(target, '<file>')}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    });
  }
  t.same(Object.fromEntries(failures), {}, '3000 reads, none failed');
});

t.test('an orchestrator whose session.json is replaced (by rename) while it runs still ends every task', async t => {
  const rewriteForever = rewriteLoops(t);
  const tasks = planTasks(30, 3, ['quick']);
  const project = makeTortureProject(t.testdir(), tasks);
  const run = startOrch(project, ['--once']);
  t.teardown(() => killNow(run));
  const session = join(project.root, '.isollm', 'state', 'session.json');
  await waitFor('the orchestrator to create session.json', () => existsSync(session));
  // The same rename a heartbeat does every 10 s, made often enough to meet every fenced write.
  const loop = await rewriteForever(session);
  const exit = await run.exited;
  await stopChild(loop);
  const left = [...readRecords(project.root).values()].filter(r => r.state !== 'DONE').map(r => `${r.id} ${r.state}`);
  t.equal(exit.code, 0, 'the run ends cleanly', { output: run.output().slice(-3000) });
  t.same(left, [], 'every task is DONE');
  // The loop rewrites the session with what it read a moment before: it may put back the running
  // session over the release, and its own kill leaves its temp file. So the state dir is judged as
  // after a crash (a dead session is expected), with open attempts checked here.
  t.same(formatViolations(await checkInvariants(project.root, { phase: 'crashed', marker: project.marker, allow: ['temp_file'] })), '', 'nothing broken');
  const open = [...readRecords(project.root).values()].filter(r => r.attempts.some(a => a.ended_at === undefined)).map(r => r.id);
  t.same(open, [], 'no open attempt');
});

t.test('a crash between spawning a command and writing its identity: the resume finds the command by its session marker and stops it', async t => {
  const tasks = planTasks(2, 9, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_HOLD_S: '30' } } }));
  let resumed: ReturnType<typeof startOrch> | undefined;
  let marker: string | undefined;
  // Registered before t.testdir(), whose removal is a teardown too and runs in order: the processes
  // writing into the folder must be gone before it is removed (else ENOTEMPTY, 1 run in 5). The
  // orchestrator first (and waited for), then its commands until none is left.
  t.teardown(async () => {
    if (resumed !== undefined) await killNow(resumed);
    if (marker === undefined) return;
    const mine = marker;
    await waitFor('every command of the test to be gone', () => {
      for (const p of markedProcesses(mine)) process.kill(p.pid, 'SIGKILL');
      return markedProcesses(mine).length === 0;
    }, 10_000);
  });
  const project = makeTortureProject(t.testdir(), tasks);
  marker = project.marker;
  const crashed = await runOrch(project, ['--once'], { env: { ORCH_CRASH_AT: 'attempt.spawned:1' } });
  t.equal(crashed.signal, 'SIGKILL', 'killed right after the spawn');
  // No spawn gate: the command runs on, named by no record, with the dead run's marker in its environment.
  const unnamed = markedProcesses(project.marker);
  t.ok(unnamed.length > 0, 'the command spawned before the crash runs on');
  const stateDir = resolve(projectPaths(project.root).stateDir);
  t.ok(unnamed.every(p => p.stateDir === stateDir), 'it carries the session marker of this state dir');
  // The resume runs the tasks again (each implement holds 30 s): stop it once it has recovered.
  resumed = startOrch(project, ['--resume', '--once']);
  await waitFor('the resume to start both tasks again', () => [...readRecords(project.root).values()].filter(r => r.attempts.some(a => a.process !== undefined && a.ended_at === undefined)).length === 2, 30_000);
  const open = new Set([...readRecords(project.root).values()].flatMap(r => r.attempts.filter(a => a.ended_at === undefined).map(a => a.process?.pgid)));
  const strays = markedProcesses(project.marker).filter(p => p.pid !== resumed.child.pid && !open.has(p.pgid));
  t.same(strays.map(p => p.command), [], 'no command of the dead run is still running beside the new attempts');
});
