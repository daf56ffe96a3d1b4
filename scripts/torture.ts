// The full torture run (`npm run torture -- --kills 1000`; not part of `npm test`): a sweep of every
// crash point at several occurrences, then random kill -9s of a 50-task workload until --kills, each
// followed by the oracle (test/torture/oracle.ts), then a last resume, the oracle again and every
// task's outcome. Prints progress, then the figures docs/reliability.md quotes. Exit 1 on any
// violation that no known bug explains, or any task that did not end as it should.
//
//   --kills N        random kills in all (default 1000)
//   --tasks N        tasks per round (default 50)
//   --seed N         (default: the time)
//   --occurrences L  crash-point occurrences to sweep, comma-separated (default 1,4,16); 0: no sweep
//   --jobs N         crash-point cases run side by side (default 6)
//   --keep           keep the run's directories (default: only when something failed)
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CRASH_POINTS, type CrashPointName } from '../src/testing/crash-points.js';
import { RESUME_CHAIN, caseDir, inPool, runCrashCase, type CrashCase, type CrashCaseResult } from '../test/torture/crash-case.js';
import { runKillTorture } from '../test/torture/kill-loop.js';
import { KNOWN_BUGS, splitKnown, type KnownBug } from '../test/torture/known-bugs.js';
import { formatViolations, type Violation } from '../test/torture/oracle.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '1000' },
    tasks: { type: 'string', default: '50' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    occurrences: { type: 'string', default: '1,4,16' },
    jobs: { type: 'string', default: '6' },
    keep: { type: 'boolean', default: false },
  },
});
const kills = Number(values.kills);
const tasks = Number(values.tasks);
const seed = Number(values.seed);
const occurrences = values.occurrences.split(',').map(Number).filter(n => n > 0);
const jobs = Number(values.jobs);
const base = mkdtempSync(join(tmpdir(), 'orch-torture-'));
const started = Date.now();

// The run takes minutes and `npm test` rebuilds dist/: run a snapshot of the built CLI instead.
const app = join(base, 'app');
const repo = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(app);
for (const part of ['dist', 'schemas', 'package.json']) cpSync(join(repo, part), join(app, part), { recursive: true });
symlinkSync(join(repo, 'node_modules'), join(app, 'node_modules'));
process.env.ORCH_TORTURE_BIN = join(app, 'dist', 'src', 'bundle', 'main.js');
const log = (line: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
};

/** Every crash point at every occurrence; the resume points after a crash that leaves commands running. */
function sweepCases(): CrashCase[] {
  const cases: CrashCase[] = [];
  // Points reached once per workload (the session's creation, the one approval) have one occurrence;
  // a resume finds at most a few open attempts.
  const once = ['create.after-link', 'inbox.before-consume', 'inbox.after-consume'];
  for (const point of Object.keys(CRASH_POINTS) as CrashPointName[]) {
    // orch doctor --fix is never reached by an orchestrator run: test/torture/crash-points-cli.ts.
    if (point.startsWith('doctor.')) continue;
    // The workload is no git repository: the merge queue's point is test/worktree/merge-queue.ts's.
    if (point.startsWith('merge.')) continue;
    // The workload spawns 14 commands: a later occurrence of a spawn point is never reached.
    const at = once.includes(point) ? [1] : point.startsWith('resume.') ? [1, 2] : point.startsWith('attempt.') ? [...new Set(occurrences.map(n => Math.min(n, 12)))] : occurrences;
    for (const n of at) {
      if (point.startsWith('resume.')) cases.push({ first: 'attempt.identity-written:2', resumes: [`${point}:${n}`], holdS: 2 });
      else cases.push({ first: `${point}:${n}`, ...(point.startsWith('attempt.') && { holdS: 2 }) });
    }
  }
  cases.push(RESUME_CHAIN);
  return cases;
}

interface PointFigures {
  cases: number;
  crashed: number;
  violations: number;
  known: number;
  outcomeProblems: number;
  resumeMs: number[];
}

const known = new Map<KnownBug, number>();
const unknown: { where: string; violation: Violation }[] = [];
const outcome: string[] = [];
const perPoint = new Map<string, PointFigures>();
const noteKnown = (bugs: ReadonlyMap<KnownBug, Violation[]>): void => {
  for (const [bug, list] of bugs) known.set(bug, (known.get(bug) ?? 0) + list.length);
};

if (occurrences.length > 0) {
  const cases = sweepCases();
  log(`crash-point sweep: ${cases.length} cases (${Object.keys(CRASH_POINTS).length} points × occurrences ${occurrences.join(', ')}), ${jobs} at a time`);
  let done = 0;
  await inPool(cases, jobs, async (c): Promise<CrashCaseResult | undefined> => {
    const point = c === RESUME_CHAIN ? 'resume chain (3 crashed resumes)' : (c.resumes?.[0] ?? c.first).replace(/:\d+$/, '');
    const figures = perPoint.get(point) ?? { cases: 0, crashed: 0, violations: 0, known: 0, outcomeProblems: 0, resumeMs: [] };
    perPoint.set(point, figures);
    figures.cases += 1;
    try {
      const r = await runCrashCase(caseDir(join(base, 'sweep'), c), c);
      const last = r.crashes.at(-1);
      if (last?.crashed === true) figures.crashed += 1;
      for (const violations of [r.crashedViolations, r.resumedViolations]) {
        const split = splitKnown(violations, r.project.root);
        figures.violations += split.unknown.length;
        for (const v of split.unknown) unknown.push({ where: r.name, violation: v });
        figures.known += [...split.known.values()].reduce((sum, list) => sum + list.length, 0);
        noteKnown(split.known);
      }
      if (split(r)) {
        figures.outcomeProblems += r.outcome.length;
        outcome.push(...r.outcome.map(p => `${r.name}: ${p}`));
      }
      figures.resumeMs.push(r.resumeMs);
      done += 1;
      log(`sweep ${done}/${cases.length} ${r.name}: ${last?.crashed === true ? 'crashed there' : 'NOT REACHED'}, resume ${(r.resumeMs / 1000).toFixed(1)} s, ${r.outcome.length} outcome problem(s)`);
      return r;
    } catch (error) {
      done += 1;
      unknown.push({ where: JSON.stringify(c), violation: { invariant: 'doctor', path: '', message: `the case failed to run: ${String(error)}` } });
      log(`sweep ${done}/${cases.length} ${JSON.stringify(c)}: FAILED TO RUN: ${String(error).slice(0, 300)}`);
      return undefined;
    }
  });
}

/** Outcome problems count unless a known bug explains them (the session hard link, a stuck task). */
function split(r: CrashCaseResult): boolean {
  const bugs = splitKnown([...r.crashedViolations, ...r.resumedViolations], r.project.root).known;
  return !bugs.has('session-hard-link') && !bugs.has('lost-event');
}

log(`random kills: ${kills} kills, ${tasks} tasks a round, seed ${seed}`);
const torture = await runKillTorture({
  dir: join(base, 'kills'),
  tasks,
  kills,
  seed,
  onProgress: p => {
    if (p.kills % 25 === 0 || p.kills === kills) {
      const bugs = [...p.known].map(([bug, list]) => `${bug}×${list.length}`).join(', ');
      log(`kills ${p.kills}/${kills}, round ${p.round}, ${p.completedRuns} runs ended by themselves, violations ${p.unknown.length}${bugs === '' ? '' : `, known bugs ${bugs}`}`);
    }
  },
});
for (const v of torture.unknown) unknown.push({ where: 'random kills', violation: v });
noteKnown(torture.known);
outcome.push(...torture.outcome);

const seconds = (Date.now() - started) / 1000;
const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
process.stdout.write('\n## Torture figures\n\n');
process.stdout.write(`- duration: ${(seconds / 60).toFixed(1)} min, seed ${seed}\n`);
process.stdout.write(`- random kills: ${torture.kills} over ${torture.rounds} rounds of ${tasks} tasks (${torture.tasks} tasks), ${torture.completedRuns} runs ended by themselves\n`);
process.stdout.write(`- violations no known bug explains: ${unknown.length}\n`);
process.stdout.write(`- tasks that did not end as they should: ${outcome.length}\n`);
process.stdout.write(`- oracle checks in the random kills: ${torture.checks}; known bugs seen in ${[...torture.knownChecks].map(([bug, n]) => `${n} (${bug})`).join(', ') || 'none'} of them\n`);
process.stdout.write(`- violations a known bug explains, in all: ${[...known].map(([bug, n]) => `${bug} ×${n}`).join(', ') || 'none'}\n`);
if (perPoint.size > 0) {
  process.stdout.write('\n| crash point | cases | crashed there | violations | known-bug hits | outcome problems | median resume |\n|---|---|---|---|---|---|---|\n');
  for (const [point, f] of [...perPoint].sort(([a], [b]) => a.localeCompare(b))) {
    process.stdout.write(`| ${point} | ${f.cases} | ${f.crashed} | ${f.violations} | ${f.known} | ${f.outcomeProblems} | ${(median(f.resumeMs) / 1000).toFixed(1)} s |\n`);
  }
}
for (const { where, violation } of unknown.slice(0, 50)) process.stdout.write(`\nVIOLATION (${where}): ${formatViolations([violation])}`);
for (const problem of outcome.slice(0, 50)) process.stdout.write(`\nOUTCOME: ${problem}`);
for (const bug of known.keys()) process.stdout.write(`\nknown bug ${bug}: ${KNOWN_BUGS[bug]}`);
process.stdout.write('\n');
const failed = unknown.length > 0 || outcome.length > 0;
if (failed || values.keep) process.stdout.write(`\nThe run's directories are kept in ${base}\n`);
else rmSync(base, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
