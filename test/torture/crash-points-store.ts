// The store's crash points (src/testing/crash-points.ts): the orchestrator is killed inside a write
// (before it, after the data, after fsync, after rename, after the dir fsync, under the lock), then
// resumed; the oracle must find nothing and every task must end as it would have. The cases run side by
// side. A lock the dead run held is taken at once (its holder file names a dead process).
import t from 'tap';
import { CRASH_CASES, assertCase, caseDir, inPool, runCrashCase } from './crash-case.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { runOrch } from './project.js';

const cases = CRASH_CASES.filter(c => /^(write|update|create)\./.test(c.first));

t.test('killed at each crash point of the durable writer and the fenced update, then resumed: nothing is broken, every task ends as it would have', async t => {
  const base = t.testdir();
  const results = await inPool(cases, cases.length, c => runCrashCase(caseDir(base, c), c));
  for (const result of results) assertCase(t, result);
});

t.test('killed between link() and unlink() while creating session.json, the next orch still starts', async t => {
  const base = t.testdir();
  const [result] = await inPool([{ first: 'create.after-link:1' as const }], 1, c => runCrashCase(caseDir(base, c), c));
  if (result === undefined) throw new Error('no result');
  assertCase(t, result);
  const again = await runOrch(result.project, ['--resume', '--once']);
  t.not(again.code, 2, 'a second --resume does not refuse either');
  t.same(formatViolations(await checkInvariants(result.project.root, { phase: 'resumed' })), '', 'the oracle finds nothing');
});
