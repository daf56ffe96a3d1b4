// kill -9 of the coordinator while a task runs as a Slurm job, then `orch --resume`: the dead run's job
// is cancelled, the task runs again as a new job, and nothing of the first job runs on.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readTaskRecord } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { startSlurm } from '../fixtures/slurm.js';
import { slurmProject } from '../fixtures/slurm-project.js';
import { waitFor } from '../fixtures/wait-for.js';

const record = readTaskRecord;

t.test('kill -9 of orch while its job runs; --resume cancels that job and runs the task again', async t => {
  const cluster = await startSlurm(t);
  // The first job marks its working folder and runs for ever; the next finds the mark and ends.
  const line = 'if [ -e first-job-ran ]; then exit 0; fi; touch first-job-ran; while :; do sleep 0.1; done';
  const { root, env } = slurmProject(t, cluster, line, { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 }, ['R1']);
  const orch = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, env, stdio: 'ignore' });
  t.teardown(() => {
    if (orch.exitCode === null) orch.kill('SIGKILL');
  });
  const job = await waitFor('the job to be recorded', () => record(root, 'R1')?.attempts.find(a => a.remote?.job_id !== undefined)?.remote?.job_id, 60_000);
  await cluster.untilJob(job, ['RUNNING'], 60_000);
  orch.kill('SIGKILL');
  await new Promise(resolve => orch.once('exit', resolve));
  t.equal(await cluster.squeue(job), 'RUNNING', 'the job runs on after the coordinator died');

  const resumed = await runCli(['--resume', '--once'], { cwd: root, env, timeoutMs: 120_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  t.equal(await cluster.squeue(job), undefined, 'the dead run\'s job was cancelled');
  const attempts = record(root, 'R1')?.attempts.filter(a => a.phase === 'implement') ?? [];
  t.match(attempts, [{ reason: 'interrupted', remote: { job_id: job } }, { reason: 'succeeded', remote: { executor: 'slurm' } }]);
  t.not(attempts[1]?.remote?.job_id, job, 'the task ran again as a new job');
  t.equal(record(root, 'R1')?.state, 'DONE');
});
