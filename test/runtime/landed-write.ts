// A record write can land and still fail: the rename is done, the directory fsync is refused (EMFILE,
// EIO). The engine must then neither take its own write for a hand edit (a refused copy beside the
// record, found by CI under `ulimit -n 70`) nor run a command twice or lose an attempt's end.
import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { clearFaults, injectFault } from '../../src/testing/faults.js';
import type { TaskRecord } from '../../src/generated/types.js';
import { makeProject } from '../fixtures/project.js';

const RECORD = /[/\\]state[/\\]tasks[/\\]T1\.json$/;

/** Writes of T1's record in a one-phase run: 0 creates it with its start and first attempt, 1 ends the attempt. */
const WRITE = { start: 0, end: 1 } as const;

async function runWithFaults(t: Test, write: number, readBackFails: boolean) {
  const dir = t.testdir();
  const runs = join(dir, 'runs.log');
  const root = makeProject(join(dir, 'project'), {
    workflow: { implement: { command: [process.execPath, '-e', 'require("fs").appendFileSync(process.env.RUNS, "ran\\n")'] }, retry: { base_delay_s: 0.01, jitter: 0 } },
    tasks: { T1: { goal: 'one command' } },
  });
  t.teardown(clearFaults);
  injectFault('write.dir-fsync', { path: RECORD, skip: write });
  if (readBackFails) injectFault('engine.read-back', { path: RECORD, code: 'EMFILE' });
  const result = await runOnce(root, { env: { ...process.env, RUNS: runs } });
  const records = join(root, '.isollm/state/tasks');
  const record: TaskRecord = JSON.parse(readFileSync(join(records, 'T1.json'), 'utf8'));
  return {
    result,
    record,
    ran: readFileSync(runs, 'utf8').split('\n').filter(Boolean).length,
    refused: readdirSync(records).filter(name => name.includes('.rejected-')),
    log: readFileSync(result.runLogPath, 'utf8'),
  };
}

for (const [which, write] of Object.entries(WRITE)) {
  t.test(`the ${which} write lands but its dir fsync fails, and the read back shows it landed: taken as written`, async t => {
    const run = await runWithFaults(t, write, false);
    t.same(run.result.done, ['T1']);
    t.same(run.refused, [], 'no refused hand edit');
    t.equal(run.ran, 1, 'the command ran once');
    t.same(run.record.attempts.map(a => a.reason), ['succeeded']);
    t.notMatch(run.log, /could not write/, 'nothing to report: the write is in place');
  });

  t.test(`the ${which} write lands but its dir fsync fails, and it cannot be read back: rolled back, not refused as a hand edit`, async t => {
    const run = await runWithFaults(t, write, true);
    t.same(run.result.done, ['T1']);
    t.same(run.refused, [], 'no refused hand edit');
    t.notMatch(run.log, /Hand edit/);
    t.match(run.log, /could not write .*T1\.json: EIO/, 'the failed write is reported');
    // The start: the command waited at its gate for that write and was stopped; the task is launched
    // again. The end: written again until it lands. Either way the command ran once, one attempt.
    t.equal(run.ran, 1, 'the command ran once');
    t.same(run.record.attempts.map(a => [a.n, a.reason]), [[1, 'succeeded']]);
  });
}
