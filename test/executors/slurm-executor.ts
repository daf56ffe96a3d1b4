// The slurm executor against a real single-node Slurm (test/fixtures/slurm.ts): tasks run as batch jobs
// and their output, result file and exit codes come back through the shared spool; an scancel from
// outside is seen (the attempt failed, retried); orch's own timeout cancels the job; nothing of a job
// is left running. (Slurm's own time limit: slurm-time-limit.ts, a file of its own: it takes 60-90 s.)
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce, startOrchestrator } from '../../src/runtime/orchestrator.js';
import { slurmProject } from '../fixtures/slurm-project.js';
import { startSlurm } from '../fixtures/slurm.js';
import { waitFor } from '../fixtures/wait-for.js';

// Four clusters started one after another, each case bounded by its own waits: on a loaded machine
// more than tap's 120 s per file.
t.setTimeout(300_000);

function record(root: string, id: string): TaskRecord {
  return JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', `${id}.json`), 'utf8')) as TaskRecord;
}

const QUICK_RETRY = { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 };

t.test('tasks run as batch jobs: output, result file and exit codes come back through the spool', async t => {
  const cluster = await startSlurm(t);
  const line = 'echo "out of $ORCH_TASK_ID in job $SLURM_JOB_ID"; echo err >&2; [ "$ORCH_TASK_ID" = J2 ] && exit 4; printf \'{"outcome":"done"}\' > "$ORCH_RESULT_FILE"';
  const { root, env } = slurmProject(t, cluster, line, { ...QUICK_RETRY, max_attempts: 1 }, ['J1', 'J2']);
  const result = await runOnce(root, { env });
  t.same(result.done, ['J1']);
  const done = record(root, 'J1').attempts.find(a => a.phase === 'implement');
  t.match(done, { reason: 'succeeded', exit_code: 0, remote: { executor: 'slurm', host: 'slurm', job_id: /^\d+$/ } });
  const dir = join(root, '.isollm', done?.artifacts_dir ?? '');
  t.equal(readFileSync(join(dir, 'stdout.log'), 'utf8'), `out of J1 in job ${done?.remote?.job_id}\n`, 'it ran as that job');
  t.equal(readFileSync(join(dir, 'stderr.log'), 'utf8'), 'err\n');
  t.match(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')), { outcome: 'done' });
  t.match(record(root, 'J2').attempts.find(a => a.phase === 'implement'), { reason: 'failed', exit_code: 4, error: /exited with code 4 on job \d+/ });
  const spools = join(root, 'shared-spool');
  t.same(readdirSync(spools).filter(name => name !== '.orch').flatMap(key => readdirSync(join(spools, key))), [], 'spools of ended attempts are removed');
  t.ok(readdirSync(join(spools, '.orch', 'bin')).some(name => /^orch-spool-run-[0-9a-f]{12}\.sh$/.test(name)), 'the wrapper is on the shared filesystem');
  t.same(cluster.jobProcesses(), [], 'nothing of the jobs runs');
});

t.test('an scancel from outside is seen: the attempt failed and the task runs again', async t => {
  const cluster = await startSlurm(t);
  const line = '[ "$ORCH_ATTEMPT" = 1 ] || exit 0; while :; do sleep 0.1; done';
  const { root, env } = slurmProject(t, cluster, line, QUICK_RETRY, ['C1']);
  const orchestrator = await startOrchestrator(root, { env });
  const job = await waitFor('the first job', () => record(root, 'C1').attempts.find(a => a.remote?.job_id !== undefined)?.remote?.job_id, 60_000);
  await cluster.untilJob(job, ['RUNNING'], 60_000);
  await cluster.scancel(job);
  const result = await orchestrator.done;
  t.same(result.done, ['C1']);
  // Told as the job cancelled whichever is seen first: the job gone from the queue, or its wrapper's
  // exit code on scancel's TERM (then the job's state is asked once it has finished completing).
  t.match(record(root, 'C1').attempts.filter(a => a.phase === 'implement'), [
    { reason: 'failed', error: new RegExp(`^job ${job} was cancelled outside orch \\(scancel\\)$`) },
    { reason: 'succeeded' },
  ]);
});

t.test("orch's timeout and stall timeout cancel the job: timed out or stalled, no process of it left", async t => {
  const cluster = await startSlurm(t);
  // T1 prints all the time (never stalls) and runs past its timeout; S1 prints once, then nothing (an
  // exec: no shell is left to go on printing when scancel's TERM ends the sleep first).
  const line = 'if [ "$ORCH_TASK_ID" = S1 ]; then echo once; exec sleep 300; fi; while :; do echo tick; sleep 0.5; done';
  const { root, env } = slurmProject(t, cluster, line, { max_attempts: 1, timeout_s: 6, stall_timeout_s: 2 }, ['T1', 'S1']);
  const result = await runOnce(root, { env });
  t.same(result.done, []);
  // Told one way whichever is seen first: the job gone from the queue after scancel, or its wrapper's
  // exit code written on scancel's TERM (seen on a loaded CI machine).
  const stopped = 'job \\d+ was cancelled \\(scancel\\)';
  t.match(record(root, 'T1').attempts.find(a => a.phase === 'implement'), { reason: 'timed_out', error: new RegExp(`timed out after 6s: ${stopped}`) });
  const stalled = record(root, 'S1').attempts.find(a => a.phase === 'implement');
  t.match(stalled, { reason: 'stalled', error: new RegExp(`stalled: no output for 2s: ${stopped}`) });
  t.equal(readFileSync(join(root, '.isollm', stalled?.artifacts_dir ?? '', 'stdout.log'), 'utf8'), 'once\n', 'its output so far');
  await waitFor('the job\'s processes to be gone', () => cluster.jobProcesses().length === 0, 30_000).catch(() => undefined);
  t.same(cluster.jobProcesses(), [], 'nothing of the job runs');
});
