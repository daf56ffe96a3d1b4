// One crash-point case (no tests of its own), shared by test/torture/crash-points-*.ts and
// scripts/torture.ts: run a small workload with ORCH_CRASH_AT set, check the oracle on the wreck,
// resume (crashing again first, for the resume points), check the oracle again and every task's end.
import type { Test } from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashPointName } from '../../src/testing/crash-points.js';
import { waitFor } from '../fixtures/wait-for.js';
import { reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations, type Violation } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { approveWaiting, killNow, makeTortureProject, outcomeProblems, runOrch, startOrch, type TortureProject } from './project.js';
import { type PlannedTask, planTasks } from './workload.js';

export interface CrashCase {
  /** ORCH_CRASH_AT of the first run: `point` or `point:N`. */
  first: `${CrashPointName}` | `${CrashPointName}:${number}`;
  /** ORCH_CRASH_AT of `--resume` runs that must crash too, in order, before the last clean one. */
  resumes?: (`${CrashPointName}` | `${CrashPointName}:${number}`)[];
  /** Implement runs this long (s): a command still running when the orchestrator dies. */
  holdS?: number;
}

export interface CrashCaseResult {
  name: string;
  /** Each run that was meant to crash, and whether it died by SIGKILL there. */
  crashes: { at: string; crashed: boolean; output: string }[];
  /** The oracle right after each crash. */
  crashedViolations: Violation[];
  /** The exit code of the last, clean `--resume --once`, and how long it took. */
  resumeCode: number | null;
  resumeOutput: string;
  resumeMs: number;
  resumedViolations: Violation[];
  outcome: string[];
  project: TortureProject;
}

/** The crash-point workload: the whole workflow, a retry, a gate approved through the inbox, a fatal failure; 4 workers. */
export const CRASH_MIX: PlannedTask['kind'][] = ['ok', 'quick-flaky', 'gated', 'quick', 'fatal'];

/**
 * One case per crash point (the resume points after a crash that leaves commands running), at an
 * occurrence in the middle of the workload. scripts/torture.ts sweeps more occurrences.
 */
export const CRASH_CASES: readonly CrashCase[] = [
  { first: 'write.before:9' },
  { first: 'write.after-write:9' },
  { first: 'write.after-fsync:9' },
  { first: 'write.after-rename:9' },
  { first: 'write.after-dir-fsync:9' },
  { first: 'update.before-write:12' },
  { first: 'log.before-append:5' },
  { first: 'log.between-appends:5' },
  { first: 'log.after-append:5' },
  { first: 'attempt.spawned:2', holdS: 1 },
  { first: 'attempt.identity-written:2', holdS: 1 },
  { first: 'inbox.before-consume:1' },
  { first: 'inbox.after-consume:1' },
  { first: 'engine.before-effects:6' },
  { first: 'attempt.identity-written:2', resumes: ['resume.before-stop:1'], holdS: 2 },
  { first: 'attempt.identity-written:2', resumes: ['resume.before-interrupt:1'], holdS: 2 },
  { first: 'attempt.identity-written:2', resumes: ['resume.after-interrupt:1'], holdS: 2 },
];

/** Crashing while resuming, again and again, ends as resuming once (scripts/torture.ts runs it). */
export const RESUME_CHAIN: CrashCase = { first: 'attempt.identity-written:3', resumes: ['resume.before-stop:1', 'resume.before-interrupt:1', 'resume.after-interrupt:1'], holdS: 2 };

export function caseName(c: CrashCase): string {
  return [c.first, ...(c.resumes ?? [])].join(' → ');
}

export async function runCrashCase(dir: string, c: CrashCase): Promise<CrashCaseResult> {
  mkdirSync(dir, { recursive: true });
  let tasks = planTasks(CRASH_MIX.length, 7, CRASH_MIX);
  if (c.holdS !== undefined) tasks = tasks.map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_HOLD_S: String(c.holdS) } } }));
  const project = makeTortureProject(dir, tasks);
  const outside = snapshotOutside(project.root, [project.outside]);
  const decisions = new Map<string, number>();
  const pending = new Set<string>();
  const approve = async (): Promise<number> => {
    const ids = await approveWaiting(project.root, tasks, pending);
    for (const id of ids) decisions.set(id, (decisions.get(id) ?? 0) + 1);
    return ids.length;
  };
  const crashes: CrashCaseResult['crashes'] = [];
  const crashedViolations: Violation[] = [];

  // The first run: the gated task is approved through the inbox as soon as it waits, while the
  // orchestrator runs, so the inbox points are reached as a person would reach them.
  const first = startOrch(project, ['--once'], { ORCH_CRASH_AT: c.first });
  let ended = false;
  void first.exited.then(() => (ended = true));
  await waitFor('the first run to end (crash or not), approving the gated task meanwhile', async () => {
    await approve();
    return ended;
  }, 60_000).catch(async (error: unknown) => {
    await killNow(first);
    throw error;
  });
  const exit = await first.exited;
  crashes.push({ at: c.first, crashed: exit.signal === 'SIGKILL', output: first.output() });
  crashedViolations.push(...(await checkInvariants(project.root, { phase: 'crashed', marker: project.marker, outside, decisions })));

  for (const at of c.resumes ?? []) {
    const run = await runOrch(project, ['--resume', '--once'], { env: { ORCH_CRASH_AT: at }, timeoutMs: 60_000 });
    crashes.push({ at, crashed: run.signal === 'SIGKILL', output: run.output });
    crashedViolations.push(...(await checkInvariants(project.root, { phase: 'crashed', marker: project.marker, outside, decisions })));
  }

  const started = Date.now();
  let resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 90_000 });
  const resumeMs = Date.now() - started;
  // A crash before the gated task waited leaves it unapproved: approve it now and run again.
  if ((await approve()) > 0) resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 90_000 });
  const resumedViolations = await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, decisions });
  return {
    name: caseName(c),
    crashes,
    crashedViolations,
    resumeCode: resumed.code,
    resumeOutput: resumed.output,
    resumeMs,
    resumedViolations,
    outcome: outcomeProblems(project.root, tasks),
    project,
  };
}

/** Runs `items` through `fn`, at most `limit` at a time, keeping their order in the results. */
export async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function caseDir(base: string, c: CrashCase): string {
  return join(base, caseName(c).replace(/[^A-Za-z0-9.-]+/g, '_'));
}

/**
 * The assertions of one case: every run meant to crash died by SIGKILL at its point; the oracle finds
 * nothing after each crash nor after the resume (known bugs aside, reported as todo); the resume ends
 * as the workload does (exit 1: its fatal task fails) and every task ends as it would have.
 */
export function assertCase(t: Test, r: CrashCaseResult, todo?: string): void {
  const expect = todo === undefined ? {} : { todo };
  for (const crash of r.crashes) t.ok(crash.crashed, `${r.name}: the run was killed at ${crash.at}`, { output: crash.output.slice(-2000) });
  for (const [phase, violations] of [['after the crash', r.crashedViolations], ['after the resume', r.resumedViolations]] as const) {
    const { unknown, known } = splitKnown(violations, r.project.root);
    t.same(unknown, [], `${r.name}: the oracle finds nothing ${phase}`, { violations: formatViolations(unknown), ...expect });
    reportKnown(t, known, `${r.name} ${phase}`);
  }
  t.equal(r.resumeCode, 1, `${r.name}: --resume --once ends with exit 1 (the fatal task failed)`, { output: r.resumeOutput.slice(-2000), ...expect });
  t.same(r.outcome, [], `${r.name}: every task ends as it would have without the crash`, expect);
}
