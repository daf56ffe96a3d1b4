// Crashes during `orch --resume` (PRODUCT.md §7: "Resuming twice, or crashing while resuming, ends in
// the same state as resuming once"): a run dies with commands running, the resume is killed before it
// stops their group, after, and after it closed the attempt. (The same three crashes in a row, then a
// clean resume, is RESUME_CHAIN in the full run: scripts/torture.ts.)
import t from 'tap';
import { CRASH_CASES, assertCase, caseDir, inPool, runCrashCase } from './crash-case.js';

const cases = CRASH_CASES.filter(c => c.resumes !== undefined);

t.test('a resume killed at each of its own crash points, then resumed again: it ends as one resume would', async t => {
  const base = t.testdir();
  const results = await inPool(cases, cases.length, c => runCrashCase(caseDir(base, c), c));
  for (const result of results) assertCase(t, result);
});
