// Too many open files (EMFILE): an orchestrator started under `ulimit -n 70` runs 20 workers at once,
// so spawns and opens fail while it works. It must not die of it, nothing may be corrupted, and a
// resume with the limit lifted must end every task as it would have.
import t from 'tap';
import { spawn } from 'node:child_process';
import { KNOWN_BUGS, reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { makeTortureProject, MARKER_ENV, orchBin, outcomeProblems, runOrch } from './project.js';
import { planTasks } from './workload.js';

t.test('an orchestrator that runs out of file descriptors does not die, corrupts nothing, and a resume ends every task', async t => {
  const tasks = planTasks(40, 8, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_SLEEP: '1' } } }));
  const project = makeTortureProject(t.testdir(), tasks, { workers: 20 });
  const outside = snapshotOutside(project.root, [project.outside]);
  const limited = spawn('sh', ['-c', 'ulimit -n 70 && exec "$0" "$@"', process.execPath, orchBin(), '--once'], {
    cwd: project.root,
    env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '', [MARKER_ENV]: project.marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  limited.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  limited.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.teardown(() => {
    limited.kill('SIGKILL');
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => limited.once('exit', (code, signal) => resolve({ code, signal })));
  t.comment(`the limited run ended with ${JSON.stringify(exit)}`);
  t.notMatch(output, /Unhandled 'error' event|EMFILE: too many open files, open '.*\.js'/, 'it did not die of EMFILE (nor fail to load itself)', { todo: KNOWN_BUGS['spawn-emfile-crash'], output: output.slice(-2000) });
  const crashed = splitKnown(await checkInvariants(project.root, { phase: 'crashed', outside }), project.root);
  t.same(formatViolations(crashed.unknown.filter(v => v.invariant !== 'doctor')), '', 'no broken file after the run');

  const resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 90_000 });
  t.equal(resumed.code, 0, 'a resume without the limit ends cleanly', { output: resumed.output.slice(-2000) });
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing after the resume');
  reportKnown(t, known, 'EMFILE');
  // An attempt that could not be spawned counts as a failure: a task may have spent its attempts.
  const problems = outcomeProblems(project.root, tasks).filter(p => !/FAILED, expected DONE|attempts implement\/S1\/failed/.test(p));
  t.same(problems, [], 'every task ended as it would have (or failed on the spawns EMFILE refused)');
});
