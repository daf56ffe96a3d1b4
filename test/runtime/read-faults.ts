// A state file the system refuses to read (EMFILE, EIO) is not a broken file: it is read again, never
// reported as a hand edit, never replaced.
import t from 'tap';
import { readFileSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { clearFaults, injectFault } from '../../src/testing/faults.js';
import { makeProject, writeTask } from '../fixtures/project.js';

t.test('a record whose read fails on EMFILE is read again at the next pass, and kept as it is', async t => {
  const root = makeProject(t.testdir(), {
    workflow: { implement: { command: [process.execPath, '-e', '0'] } },
    tasks: { T1: { goal: 'first run' } },
  });
  t.same((await runOnce(root)).done, ['T1']);
  const records = join(root, '.isollm/state/tasks');
  const before = readFileSync(join(records, 'T1.json'), 'utf8');
  // An hour old: a file read long after its last change is trusted until its stat changes.
  const anHourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(records, 'T1.json'), anHourAgo, anHourAgo);

  writeTask(root, 'T2', { goal: 'second run' });
  t.teardown(clearFaults);
  injectFault('read.open', { path: /[/\\]state[/\\]tasks[/\\]T1\.json$/, code: 'EMFILE' });
  const result = await runOnce(root);
  t.same(result.done.sort(), ['T1', 'T2'], 'T1 was read again and counted');
  t.equal(readFileSync(join(records, 'T1.json'), 'utf8'), before, 'the record was not rewritten');
  t.same(readdirSync(records).filter(name => name.includes('.rejected-')), [], 'no refused hand edit');
  t.notMatch(readFileSync(result.runLogPath, 'utf8'), /Hand edit/);
});
