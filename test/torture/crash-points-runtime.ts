// The runtime's crash points (src/testing/crash-points.ts): the orchestrator is killed around a run-log
// append, a spawn and its identity write, an inbox decision's consumption, and between a record write
// and its effects; then resumed. The oracle must find nothing and every task must end as it would have.
import t from 'tap';
import { CRASH_CASES, assertCase, caseDir, inPool, runCrashCase } from './crash-case.js';

const cases = CRASH_CASES.filter(c => /^(log|attempt|inbox|engine)\./.test(c.first) && c.resumes === undefined);

t.test('killed at each crash point of the run log, the attempt, the inbox and the engine, then resumed: nothing is broken, every task ends as it would have', async t => {
  const base = t.testdir();
  const results = await inPool(cases, cases.length, c => runCrashCase(caseDir(base, c), c));
  for (const result of results) assertCase(t, result);
});
