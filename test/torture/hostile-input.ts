// Hostile input (PRODUCT.md §2, §3, §6): the corpus of test/torture/hostile.ts and 30 seeded
// mutations of a valid spec, dropped into tasks/ before a `--once` run and while a watching orchestrator
// runs. Each must be refused with a message that names it (in the run log and in `orch validate`), or
// run if it is valid after all; nothing may be followed or written outside the state dir; a good task
// dropped after them must still run; and the oracle must find nothing else.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../fixtures/wait-for.js';
import { CORPUS, generatedSpecs, servers, type HostileFile } from './hostile.js';
import { KNOWN_BUGS, reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { killNow, makeTortureProject, readRecords, runOrch, startOrch, type TortureProject, writeSpec } from './project.js';
import { planTasks } from './workload.js';

const seed = Number(process.env.ORCH_TORTURE_SEED ?? 7);
const FILES: HostileFile[] = [...CORPUS, ...generatedSpecs(30, seed)];

t.teardown(() => {
  for (const server of servers) server.close();
});

/** The id a runnable file's record has: its file name without .json. */
function idOf(file: HostileFile): string {
  return String(file.name).replace(/\.json$/, '');
}

function runLog(project: TortureProject): string {
  return readFileSync(join(project.root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8');
}

/** Each file refused with a message naming it, or run; known bugs as todo. */
async function assertJudged(t: Test, project: TortureProject): Promise<void> {
  const log = runLog(project);
  const validate = await runOrch(project, ['validate', '--json'], { timeoutMs: 60_000 });
  t.not(validate.code, null, '`orch validate` ends (it reads every hostile file too)');
  const records = readRecords(project.root);
  for (const file of FILES) {
    const ran = records.get(idOf(file))?.state === 'DONE';
    const named = file.message.test(log) && file.message.test(validate.output);
    if (file.runs === true) t.ok(ran, `${file.what}: valid after all, it ran`);
    else if (file.maybeValid === true) t.ok(ran || named, `${file.what}: run, or refused with a message naming it`);
    else if (file.knownBug !== undefined) t.ok(named && !ran, `${file.what}: refused with a message naming it`, { todo: KNOWN_BUGS[file.knownBug] ?? file.knownBug });
    else {
      t.ok(named, `${file.what}: refused, named in the run log and by orch validate`);
      t.notOk(records.has(idOf(file)), `${file.what}: no record made of it`);
    }
  }
}

async function assertSound(t: Test, project: TortureProject, outside: ReturnType<typeof snapshotOutside>): Promise<void> {
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, allow: ['spec_invalid'] }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing (the hostile specs aside), nothing outside the state dir was touched');
  reportKnown(t, known, 'hostile input');
}

async function dropAll(project: TortureProject): Promise<void> {
  for (const file of FILES) await file.make(join(project.root, '.isollm', 'tasks'), project.outside);
}

t.test('every hostile file in tasks/ before `orch --once`: each refused with a message naming it, the good task runs, nothing outside is touched', async t => {
  const project = makeTortureProject(t.testdir(), planTasks(2, 3, ['quick']));
  const outside = snapshotOutside(project.root, [project.outside]);
  await dropAll(project);
  const run = await runOrch(project, ['--once'], { timeoutMs: 90_000 });
  t.equal(run.code, 0, 'the run ends cleanly', { output: run.output.slice(-3000) });
  t.ok(['T001', 'T002'].every(id => readRecords(project.root).get(id)?.state === 'DONE'), 'the good tasks ran');
  await assertJudged(t, project);
  await assertSound(t, project, outside);
});

t.test('hostile files dropped into a watching orchestrator: it stays responsive (a good task dropped after them runs), each is refused by name', async t => {
  const project = makeTortureProject(t.testdir(), planTasks(1, 3, ['quick']));
  const outside = snapshotOutside(project.root, [project.outside]);
  const run = startOrch(project, []);
  t.teardown(() => killNow(run));
  await waitFor('the first task to be DONE', () => readRecords(project.root).get('T001')?.state === 'DONE', 30_000);
  await dropAll(project);
  writeSpec(project.root, 'after', { goal: 'dropped after the hostile files', workflow: 'quick', env: { TORTURE_KIND: 'ok' } });
  await waitFor('the task dropped after the hostile files to be DONE', () => readRecords(project.root).get('after')?.state === 'DONE', 30_000);
  const refused = FILES.filter(file => file.runs !== true && file.maybeValid !== true && file.knownBug === undefined);
  await waitFor('every hostile file to be reported in the run log', () => refused.every(file => file.message.test(runLog(project))), 30_000).catch(() => undefined);
  // The valid ones run: wait for them to end before stopping the orchestrator.
  const done = (file: HostileFile): boolean => readRecords(project.root).get(idOf(file))?.state === 'DONE';
  const valid = FILES.filter(file => file.runs === true || file.maybeValid === true || file.knownBug !== undefined);
  await waitFor('the valid ones to run', () => valid.every(file => done(file) || (file.runs !== true && file.message.test(runLog(project)))), 30_000).catch(() => undefined);
  run.child.kill('SIGTERM');
  const exit = await run.exited;
  t.same(exit, { code: 0, signal: null }, 'SIGTERM ends the run cleanly: it never hung on a FIFO, a socket or a 10 GB file');
  await assertJudged(t, project);
  await assertSound(t, project, outside);
});
