// A command of a dead run that the start's look for orphans could not see yet (between its fork and its
// exec it is a copy of the dead orchestrator, unmarked) is marked a moment later: the run looks again
// (LATE_ORPHAN_LOOK_MS after the start, and at its end) and stops it (specs/commands.md, "The session
// marker").
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce, startOrchestrator } from '../../src/runtime/orchestrator.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';
import { makeProject } from '../fixtures/project.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8')) as TaskRecord;
const readRecordState = (root: string, id: string): string | undefined => {
  try {
    return record(root, id).state;
  } catch {
    return undefined;
  }
};

t.test('a command of a dead run that gets its marker after the start\'s look is stopped by a later look of the run', async t => {
  const root = t.testdir({});
  const stateDir = join(root, '.isollm');
  const go = join(root, 'go');
  // The stand-in for the late command: unmarked until `go` exists, then it execs into a command marked
  // by a dead run of this state dir, in its own process group (as every command is).
  const late = spawn('/bin/sh', ['-c', `while [ ! -e "$0" ]; do sleep 0.02; done; exec env ORCH_STATE_DIR="$1" ORCH_SESSION=run-dead ORCH_ATTEMPT_ID=X/1/1 sleep 30`, go, stateDir], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const ended = new Promise<NodeJS.Signals | null>(resolve => late.once('exit', (_code, signal) => resolve(signal)));
  t.teardown(() => {
    if (late.pid !== undefined && isAlive(late.pid)) process.kill(-late.pid, 'SIGKILL');
  });
  const pid = late.pid ?? 0;
  // The run's only task makes `go` (so after the start's look), and ends once the stand-in is marked.
  const marked = `grep -qs ORCH_SESSION=run-dead /proc/${pid}/environ`;
  makeProject(root, {
    workflow: { implement: { command: ['/bin/sh', '-c', `touch "${go}"; until ${marked}; do sleep 0.02; done`] }, retry: { max_attempts: 1, timeout_s: 60 } },
    tasks: { L1: { goal: 'wake the late command' } },
  });
  const result = await runOnce(root);
  t.same(result.done, ['L1']);
  t.equal(await ended, 'SIGTERM', 'the late command was stopped');
  t.match(readFileSync(result.runLogPath, 'utf8'), `Stopped process group ${pid} (attempt X/1/1), left running by run run-dead`);
});

t.test('a run taken over does not stop the commands of the run that took the state dir, in its later looks', async t => {
  const root = t.testdir({});
  makeProject(root, {
    workflow: { implement: { command: ['/bin/sh', '-c', 'exec sleep 30'] }, retry: { max_attempts: 1, timeout_s: 60 } },
    tasks: { H1: { goal: 'hold the run' } },
  });
  const stateDir = join(root, '.isollm');
  const sessionPath = join(stateDir, 'state', 'session.json');
  const orchestrator = await startOrchestrator(root, { leaseMs: 3000 }); // a heartbeat every second
  const done = orchestrator.done.catch((error: unknown) => error);
  await waitFor('the task\'s command to run', () => readRecordState(root, 'H1') === 'IMPLEMENTING' && record(root, 'H1').attempts[0]?.process !== undefined);
  // Another orchestrator takes the state dir (a higher epoch) and runs a command of its own, marked.
  const session = JSON.parse(readFileSync(sessionPath, 'utf8')) as { epoch: number; rev: number; run_id: string };
  writeFileSync(sessionPath, JSON.stringify({ ...session, epoch: session.epoch + 1, rev: session.rev + 1, run_id: 'run-new' }, null, 2));
  const theirs = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ORCH_STATE_DIR: stateDir, ORCH_SESSION: 'run-new', ORCH_ATTEMPT_ID: 'N1/1/1' } });
  t.teardown(() => {
    if (theirs.pid !== undefined && isAlive(theirs.pid)) process.kill(-theirs.pid, 'SIGKILL');
  });
  await waitFor('the new owner\'s command to run, marked', () => readFileSync(`/proc/${theirs.pid}/environ`, 'latin1').includes('ORCH_SESSION=run-new'));
  await done; // the heartbeat sees the takeover and the run ends, its own command stopped
  t.ok(isAlive(theirs.pid ?? 0), 'the new owner\'s command runs on');
  t.notMatch(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), `Stopped process group ${theirs.pid}`);
});
