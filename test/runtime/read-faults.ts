// What the system refuses to read (EMFILE, EIO) is not broken: a state file is read again, never
// reported as a hand edit, never replaced; a process table read refused at a spawn does not leave the
// command behind (the emfile-hang of the torture suite: `orch --once` never ended).
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

t.test('a /proc read refused right after a spawn (and at the start\'s look for orphans): the command is stopped, launched again, and the run ends', async t => {
  const dir = t.testdir();
  const runs = join(dir, 'runs.log');
  const root = makeProject(join(dir, 'project'), {
    workflow: { implement: { command: [process.execPath, '-e', 'require("fs").appendFileSync(process.env.RUNS, "ran\\n")'] } },
    tasks: { T1: { goal: 'one command' } },
  });
  t.teardown(clearFaults);
  injectFault('proc.read', { path: new RegExp(`^/proc/(?!${process.pid}/)\\d+/stat$`), code: 'EMFILE' });
  const result = await runOnce(root, { env: { ...process.env, RUNS: runs } });
  t.same(result.done, ['T1']);
  // No spawn gate: the first command may have done its act before it was stopped, so once or twice.
  t.match(readFileSync(runs, 'utf8'), /^(ran\n){1,2}$/, 'the command ran to its end once');
  t.match(readFileSync(result.runLogPath, 'utf8'), /cannot read \/proc\/\d+\/stat: EMFILE/, 'the refused read is reported');
  t.match(readFileSync(result.runLogPath, 'utf8'), /Could not look for commands left running by a dead run: cannot read \/proc\/\d+\/stat: EMFILE/, 'so is the look for orphans that it stopped');
});
