// kill -9 of the coordinator while a task runs as a Slurm job, then `orch --resume`: the job runs on
// and the new run follows it to its end (PRODUCT.md §16, issue 17: "orch restarted while jobs run picks
// them up"). Its work is neither thrown away nor run twice, whether it ends while the new run follows
// it or ended while no orchestrator ran; its output shows in the attempt's stdout.log while it runs
// (copied from the shared spool), and a following run goes on from what was copied, not again.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummaryFile } from '../../src/generated/types.js';
import { summaryFilePath } from '../../src/runtime/run-report.js';
import { statePaths } from '../../src/store/paths.js';
import { readTaskRecord } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { startSlurm, type SlurmCluster } from '../fixtures/slurm.js';
import { slurmProject } from '../fixtures/slurm-project.js';
import { waitFor } from '../fixtures/wait-for.js';

const record = readTaskRecord;
// Each job counts its start in `started`, prints a line, waits for the test's `gate1`, prints another,
// waits for `gate2`, then says it is done.
const LINE = 'echo start >> started; echo before-gate; while [ ! -e gate1 ]; do sleep 0.05; done; echo middle; while [ ! -e gate2 ]; do sleep 0.05; done; echo job-output; exit 0';

function stdoutOf(root: string): string {
  const attempt = record(root, 'R1')?.attempts.find(a => a.phase === 'implement');
  try {
    return readFileSync(join(root, '.isollm', attempt?.artifacts_dir ?? '', 'stdout.log'), 'utf8');
  } catch {
    return '';
  }
}

/** A project whose task R1 runs as a job; orch is killed by SIGKILL while that job runs. Returns the job id. */
async function killWhileJobRuns(t: Test, cluster: SlurmCluster): Promise<{ root: string; env: NodeJS.ProcessEnv; job: string }> {
  const { root, env } = slurmProject(t, cluster, LINE, { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 }, ['R1']);
  const orch = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, env, stdio: 'ignore' });
  t.teardown(() => {
    if (orch.exitCode === null) orch.kill('SIGKILL');
  });
  const job = await waitFor('the job to be recorded', () => record(root, 'R1')?.attempts.find(a => a.remote?.job_id !== undefined)?.remote?.job_id, 60_000);
  await cluster.untilJob(job, ['RUNNING'], 60_000);
  await waitFor('the job to have started its command', () => existsSync(join(root, 'started')), 60_000);
  await waitFor("the job's first line in the attempt's stdout.log while it runs", () => stdoutOf(root) === 'before-gate\n' || undefined, 60_000);
  orch.kill('SIGKILL');
  await new Promise(resolve => orch.once('exit', resolve));
  t.equal(await cluster.squeue(job), 'RUNNING', 'the job runs on after the coordinator died');
  return { root, env, job };
}

/** The task ended DONE with its one job's attempt, followed by a later run, the job's output kept. */
function ranOnce(t: Test, root: string, job: string): void {
  const done = record(root, 'R1');
  t.equal(done?.state, 'DONE');
  const attempts = done?.attempts.filter(a => a.phase === 'implement') ?? [];
  t.equal(attempts.length, 1, 'one attempt: the job was not run again');
  const [attempt] = attempts;
  t.match(attempt, { reason: 'succeeded', exit_code: 0, remote: { executor: 'slurm', job_id: job } });
  t.ok(attempt?.adopted_by !== undefined && attempt.adopted_by !== attempt.run_id, 'the attempt names the run that followed it');
  // The run that followed it counts it as its own work.
  const summary = JSON.parse(readFileSync(summaryFilePath(statePaths(root), attempt?.adopted_by ?? ''), 'utf8')) as RunSummaryFile;
  t.match(summary, { counts: { completed: 1, attempts: 1 }, tasks: [{ id: 'R1', state: 'DONE', attempts: [{ n: attempt?.n, reason: 'succeeded' }] }] }, "the following run's summary.json has the attempt");
  t.equal(readFileSync(join(root, 'started'), 'utf8'), 'start\n', 'the command started once');
  t.equal(readFileSync(join(root, '.isollm', attempt?.artifacts_dir ?? '', 'stdout.log'), 'utf8'), 'before-gate\nmiddle\njob-output\n', "the job's output is the attempt's");
}

t.test('Slurm jobs outlive their coordinator', async t => {
  t.setTimeout(300_000);
  const cluster = await startSlurm(t);

  t.test('--resume follows a job that still runs to its end', async t => {
    const { root, env, job } = await killWhileJobRuns(t, cluster);
    const resumed = runCli(['--resume', '--once'], { cwd: root, env, timeoutMs: 120_000 });
    await waitFor('the resumed run to say it follows the job', () => readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8').includes(`(job ${job}), started by run`), 60_000);
    t.equal(await cluster.squeue(job), 'RUNNING', 'the job was not cancelled');
    writeFileSync(join(root, 'gate1'), '');
    await waitFor('the next line copied by the following run', () => stdoutOf(root).includes('middle') || undefined, 60_000);
    t.equal(stdoutOf(root), 'before-gate\nmiddle\n', 'copied on from where the dead run left it, not again');
    writeFileSync(join(root, 'gate2'), '');
    const result = await resumed;
    t.equal(result.code, 0, result.stderr);
    ranOnce(t, root, job);
  });

  t.test('--resume takes the end of a job that ended while no orchestrator ran', async t => {
    const { root, env, job } = await killWhileJobRuns(t, cluster);
    writeFileSync(join(root, 'gate1'), '');
    writeFileSync(join(root, 'gate2'), '');
    await waitFor('the job to leave the queue', async () => (await cluster.squeue(job)) === undefined, 60_000);
    const result = await runCli(['--resume', '--once'], { cwd: root, env, timeoutMs: 120_000 });
    t.equal(result.code, 0, result.stderr);
    ranOnce(t, root, job);
  });
});
