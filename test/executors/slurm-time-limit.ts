// A job ended by Slurm at its time limit is a timeout (the slurm executor, a real single-node Slurm).
// Its own file: Slurm checks time limits every 30 s, so the job ends 60-90 s after it starts, and the
// suite runs this file beside the others rather than after slurm-executor.ts's tests.
import t from 'tap';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { readTaskRecord } from '../fixtures/project.js';
import { startSlurm } from '../fixtures/slurm.js';
import { slurmProject } from '../fixtures/slurm-project.js';

// Slurm ends the job 60-90 s after it starts (its checks are 30 s apart): more than tap's 120 s per
// file on a loaded machine.
t.setTimeout(300_000);

t.test('a job ended by Slurm at its time limit is a timeout', async t => {
  const cluster = await startSlurm(t);
  // orch's own timeout is far; Slurm's --time=1 ends the job (checked every 30 s: 60-90 s).
  const { root, env } = slurmProject(t, cluster, 'while :; do sleep 1; done', { max_attempts: 1, timeout_s: 900 }, ['L1'], ['--time=1']);
  const result = await runOnce(root, { env });
  t.same(result.done, []);
  t.match(readTaskRecord(root, 'L1')?.attempts.find(a => a.phase === 'implement'), { reason: 'timed_out', error: /job \d+ was ended by Slurm at its time limit/ });
});
