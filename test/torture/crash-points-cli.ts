// Crash points in the command line's own writes: `orch approve ID` with no orchestrator running applies
// the decision itself, under the record's lock (PRODUCT.md §8); it writes no run log line (the next
// orchestrator's run tells the story). Killed at each point of that write, it must leave no broken file; the person then approves again, which either
// applies (the first did not land) or is refused because the task has moved (it did): never twice. A
// resume then ends every task as it would have.
import t from 'tap';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashPointName } from '../../src/testing/crash-points.js';
import { inPool } from './crash-case.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { makeTortureProject, outcomeProblems, readRecord, readRecords, runOrch, type TortureProject } from './project.js';
import { markedProcesses } from './processes.js';
import { planTasks } from './workload.js';

const POINTS: CrashPointName[] = [
  'update.before-write',
  'write.before',
  'write.after-write',
  'write.after-fsync',
  'write.after-rename',
  'write.after-dir-fsync',
];

const tasks = planTasks(4, 5, ['gated', 'quick']);
const [gated = 'T001', ...otherGated] = tasks.filter(task => task.kind === 'gated').map(task => task.id);

t.test('orch approve killed at each crash point of its own write: nothing broken, the decision applied once, every task ends', async t => {
  const base = t.testdir();
  // One project brought to AWAITING_HUMAN, copied for each crash point.
  const prepared = makeTortureProject(join(base, 'prepared'), tasks);
  await runOrch(prepared, ['--once']);
  t.equal(readRecord(prepared.root, gated)?.state, 'AWAITING_HUMAN', `${gated} waits for a person`);

  const results = await inPool(POINTS, 3, async point => {
    const dir = join(base, point);
    cpSync(join(base, 'prepared'), dir, { recursive: true });
    // A marker of its own: the cases run side by side, and the oracle looks for live processes by it.
    const project: TortureProject = { ...prepared, root: join(dir, 'project'), outside: join(dir, 'outside'), marker: `${prepared.marker}-${point}` };
    const outside = snapshotOutside(project.root, [project.outside]);
    const first = await runOrch(project, ['approve', gated, '--note', 'crash test'], { env: { ORCH_CRASH_AT: `${point}:1` } });
    const landed = readRecord(project.root, gated)?.state !== 'AWAITING_HUMAN';
    const afterCrash = await checkInvariants(project.root, { phase: 'crashed', outside, decisions: new Map([[gated, 1]]) });
    // The person sees the command die and approves again.
    const second = await runOrch(project, ['approve', gated]);
    const afterRetry = await checkInvariants(project.root, { phase: 'crashed', outside, decisions: new Map([[gated, 1]]) });
    for (const id of otherGated) await runOrch(project, ['approve', id]);
    const resumed = await runOrch(project, ['--resume', '--once']);
    const afterResume = await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, decisions: new Map([gated, ...otherGated].map(id => [id, 1])) });
    return { point, first, landed, second, afterCrash, afterRetry, resumed, afterResume, outcome: outcomeProblems(project.root, tasks) };
  });

  for (const r of results) {
    t.equal(r.first.signal, 'SIGKILL', `${r.point}: orch approve was killed there`, { output: r.first.output.slice(-1500) });
    t.same(formatViolations(r.afterCrash), '', `${r.point}: the oracle finds nothing after the crash`);
    // Landed: the task has moved, and a second approve is refused (exit 2); else it applies (exit 0).
    t.equal(r.second.code, r.landed ? 2 : 0, `${r.point}: the second approve ${r.landed ? 'is refused: the first landed' : 'applies: the first did not land'}`, { output: r.second.output.slice(-1500) });
    t.same(formatViolations(r.afterRetry), '', `${r.point}: the decision is applied once`);
    t.equal(r.resumed.code, 0, `${r.point}: --resume --once ends cleanly`, { output: r.resumed.output.slice(-1500) });
    t.same(formatViolations(r.afterResume), '', `${r.point}: the oracle finds nothing after the resume`);
    t.same(r.outcome, [], `${r.point}: every task ends as it would have`);
  }
});

t.test('orch doctor --fix killed while it repairs (an orphan command of a dead run): nothing broken, a second --fix and a resume end it', async t => {
  const base = t.testdir();
  // Commands that outlive their orchestrator for a while (the first one runs when the second one's
  // identity is written and the orchestrator killed): doctor finds them as orphans.
  const held = planTasks(3, 6, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_HOLD_S: '8' } } }));
  const results = await inPool(['doctor.before-repair', 'doctor.after-repair'] as const, 2, async point => {
    const project = makeTortureProject(join(base, point), held);
    const outside = snapshotOutside(project.root, [project.outside]);
    const first = await runOrch(project, ['--once'], { env: { ORCH_CRASH_AT: 'attempt.identity-written:2' } });
    const fix = await runOrch(project, ['doctor', '--fix'], { env: { ORCH_CRASH_AT: `${point}:1` } });
    const afterCrash = await checkInvariants(project.root, { phase: 'crashed', outside });
    const again = await runOrch(project, ['doctor', '--fix']);
    const resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 90_000 });
    const afterResume = await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside });
    return { point, first, fix, afterCrash, again, resumed, afterResume, outcome: outcomeProblems(project.root, held) };
  });
  for (const r of results) {
    t.equal(r.first.signal, 'SIGKILL', `${r.point}: the orchestrator was killed with a command running`);
    t.equal(r.fix.signal, 'SIGKILL', `${r.point}: orch doctor --fix was killed there`, { output: r.fix.output.slice(-1500) });
    t.same(formatViolations(r.afterCrash), '', `${r.point}: the oracle finds nothing after the crash`);
    t.equal(r.again.signal, null, `${r.point}: a second doctor --fix runs to its end`, { output: r.again.output.slice(-1500) });
    t.equal(r.resumed.code, 0, `${r.point}: --resume --once ends cleanly`, { output: r.resumed.output.slice(-1500) });
    t.same(formatViolations(r.afterResume), '', `${r.point}: the oracle finds nothing after the resume`);
    t.same(r.outcome, [], `${r.point}: every task ends as it would have`);
  }
});

t.test('orch doctor finds a command that no record names (killed between its spawn and its record) by its session marker; --fix stops it', async t => {
  const held = planTasks(1, 7, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_HOLD_S: '30' } } }));
  const project = makeTortureProject(t.testdir(), held);
  t.teardown(() => {
    for (const p of markedProcesses(project.marker)) process.kill(p.pid, 'SIGKILL');
  });
  const first = await runOrch(project, ['--once'], { env: { ORCH_CRASH_AT: 'attempt.spawned:1' } });
  t.equal(first.signal, 'SIGKILL', 'killed right after the spawn');
  const [command] = markedProcesses(project.marker);
  t.ok(command, 'the command runs on');
  t.equal(readRecords(project.root).get(held[0]?.id ?? '')?.attempts.at(-1)?.process, undefined, 'no record names its process');

  type Problems = { problems: { kind: string; path: string; message: string; fixed: boolean }[] };
  const doctor = JSON.parse((await runOrch(project, ['doctor', '--json'])).output) as Problems;
  const orphan = doctor.problems.find(p => p.kind === 'orphan_process');
  t.match(orphan, { path: `/proc/${command?.pgid}`, message: /of attempt T001\/1\/1 is still running: run \S+ spawned it and is gone, and no record names it/ });
  const fixed = JSON.parse((await runOrch(project, ['doctor', '--fix', '--json'])).output) as Problems;
  t.match(fixed.problems.find(p => p.kind === 'orphan_process'), { fixed: true });
  t.same(markedProcesses(project.marker), [], 'nothing of the dead run runs any more');
});
