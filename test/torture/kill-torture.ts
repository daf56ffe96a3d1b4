// The fast tier of the random kill -9 torture (the full run is `npm run torture -- --kills 1000`): a
// 50-task workload, the orchestrator killed about 20 times at random moments (during its start and
// recovery as well as while commands run), the oracle after every kill, then a last resume and the
// oracle again; every task must end as it would have without a single kill.
import t from 'tap';
import { formatViolations } from './oracle.js';
import { reportKnown } from './known-bugs.js';
import { runKillTorture } from './kill-loop.js';
import { LIGHT_MIX } from './workload.js';

const seed = Number(process.env.ORCH_TORTURE_SEED ?? 20251210);

t.test('50 tasks, 20 random kill -9s, each followed by the oracle, then --resume: no violation, every task ends as it would have', async t => {
  const result = await runKillTorture({ dir: t.testdir(), tasks: 50, kills: 20, seed, mix: LIGHT_MIX });
  t.comment(`seed ${seed}: ${result.kills} kills over ${result.rounds} round(s), ${result.tasks} tasks, ${result.completedRuns} runs ended by themselves, ${(result.durationMs / 1000).toFixed(1)} s`);
  t.equal(result.kills, 20, 'every kill landed on a live orchestrator');
  t.same(formatViolations(result.unknown), '', 'the oracle found nothing after any kill nor after the resume');
  reportKnown(t, result.known, 'kill torture');
  t.same(result.outcome, [], 'every task ended as it would have');
});
