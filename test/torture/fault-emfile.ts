// Too many open files (EMFILE): an orchestrator started under `ulimit -n 70` runs 20 workers at once,
// so spawns and opens fail while it works. It must not die of it, nothing may be corrupted, and a
// resume with the limit lifted must end every task as it would have.
import t from 'tap';
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { makeTortureProject, MARKER_ENV, orchBin, outcomeProblems, readRecords, runOrch } from './project.js';
import { planTasks } from './workload.js';

/** How long the run under the descriptor limit may take (it ends in a few seconds when it ends). */
const LIMITED_RUN_MS = 45_000;

t.test('an orchestrator that runs out of file descriptors does not die, corrupts nothing, and a resume ends every task', async t => {
  const tasks = planTasks(40, 8, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_SLEEP: '1' } } }));
  const project = makeTortureProject(t.testdir(), tasks, { workers: 20 });
  const outside = snapshotOutside(project.root, [project.outside]);
  const limited = spawn('sh', ['-c', 'ulimit -n 70 && exec "$0" "$@"', process.execPath, orchBin(), '--once'], {
    cwd: project.root,
    // Without tap's NODE_OPTIONS: its process-info hook, loaded into the child, writes its own files at
    // exit and can hang there once the descriptors run out (the run never ends, the test times out).
    env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', ORCH_ROOT: '', [MARKER_ENV]: project.marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  limited.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  limited.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.teardown(() => {
    limited.kill('SIGKILL');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => limited.once('exit', (code, signal) => resolve({ code, signal })));
  const ended = await Promise.race([exited, delay(LIMITED_RUN_MS, undefined, { ref: false })]);
  // It used to hang (1 run in 8): a /proc read refused right after a spawn threw out of the runner and
  // left the command at its gate, alive, holding the event loop open (test/runner/proc-faults.ts).
  t.ok(ended !== undefined, `the limited run ends by itself within ${LIMITED_RUN_MS / 1000} s`, { output: output.slice(-2000) });
  if (ended === undefined) limited.kill('SIGKILL'); // its gated command sees the gate close and never runs
  const exit = await exited;
  t.comment(`the limited run ended with ${JSON.stringify(exit)}`);
  t.notMatch(output, /Unhandled 'error' event|EMFILE: too many open files, open '.*\.js'/, 'it did not die of EMFILE (nor fail to load itself)', { output: output.slice(-2000) });
  const crashed = splitKnown(await checkInvariants(project.root, { phase: 'crashed', outside }), project.root);
  t.same(formatViolations(crashed.unknown.filter(v => v.invariant !== 'doctor')), '', 'no broken file after the run');

  const resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 90_000 });
  // A task whose attempts were all refused by EMFILE ended FAILED (retryable, but a limit that never
  // lifts must end): then --once says so with exit 1.
  const records = readRecords(project.root);
  const failedOnEmfile = [...records.values()].filter(r => r.state === 'FAILED' && /EMFILE/.test(r.last_error?.message ?? ''));
  t.equal(resumed.code, failedOnEmfile.length > 0 ? 1 : 0, 'a resume without the limit ends cleanly (exit 1 only for tasks EMFILE failed)', { output: resumed.output.slice(-2000) });
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing after the resume');
  reportKnown(t, known, 'EMFILE');
  // An attempt that could not be spawned counts as a failure: a task may have spent its attempts, and
  // a task depending on it then waits (NEW) for ever.
  const blocked = new Set(tasks.filter(task => (task.spec.depends_on ?? []).some(dep => records.get(dep)?.state !== 'DONE')).map(task => task.id));
  const problems = outcomeProblems(project.root, tasks).filter(p => !/FAILED, expected DONE|attempts implement\/S1\/failed/.test(p) && !blocked.has(p.split(' ')[0] ?? ''));
  t.same(problems, [], 'every task ended as it would have (or failed on the spawns EMFILE refused)');
});
