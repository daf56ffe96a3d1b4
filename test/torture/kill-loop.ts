// Random kill -9 torture (no tests of its own), shared by test/torture/kill-torture.ts (the fast tier)
// and scripts/torture.ts (the full run): a workload of N tasks is run by `orch --resume --once`, which
// is killed at a random moment (during its start and recovery as often as while it works), the oracle
// checks the wreck, and again; at the end a last resume runs to completion, and the oracle and every
// task's outcome are checked. Gated tasks are approved as they come, through the inbox or `orch approve`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isTerminal } from '../../src/machine/states.js';
import { splitKnown, type KnownBug } from './known-bugs.js';
import { checkInvariants, type Violation } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { approveWaiting, killNow, makeTortureProject, outcomeProblems, readRecord, readRecords, runOrch, startOrch, type TortureProject } from './project.js';
import { type PlannedTask, planTasks, seededRandom, type TaskKind } from './workload.js';

export interface KillTortureOptions {
  dir: string;
  /** Tasks per round (a fresh project each round). */
  tasks: number;
  /** Kills in all: rounds are run until this many. */
  kills: number;
  seed: number;
  mix?: readonly TaskKind[];
  /** A kill comes this long after the start, uniformly (ms). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Called after every kill and every round. */
  onProgress?: (progress: KillTortureProgress) => void;
}

export interface KillTortureProgress {
  round: number;
  kills: number;
  /** Runs that ended by themselves before their kill came. */
  completedRuns: number;
  tasks: number;
  unknown: Violation[];
  /** Violations that a known bug explains (test/torture/known-bugs.ts). */
  known: Map<KnownBug, Violation[]>;
  /** Per known bug: after how many of the oracle's checks it was seen. */
  knownChecks: Map<KnownBug, number>;
  /** The oracle's checks: one after every kill, every run that ended by itself, every round. */
  checks: number;
}

export interface KillTortureResult extends KillTortureProgress {
  rounds: number;
  /** Per round: the tasks that did not end as they should, with why. */
  outcome: string[];
  durationMs: number;
  /** Where the violations were found: the project of each round. */
  projects: string[];
}

/**
 * Why `orch approve` may refuse while runs start and die around it: an orchestrator took the state
 * dir between its look at the session and its write (the write is fenced), or the record moved on.
 */
const CLI_REFUSAL_ALLOWED = /refusing to write .*newer than this writer's epoch|no longer names this session|changed since it was read/;

/** Ends a round: resumes until nothing is left to do, approving what waits for a person. */
async function finishRound(project: TortureProject, tasks: readonly PlannedTask[], approve: () => Promise<number>): Promise<void> {
  for (let i = 0; i < 6; i++) {
    await runOrch(project, ['--resume', '--once'], { timeoutMs: 180_000 });
    const approved = await approve();
    const waiting = tasks.some(task => {
      const record = readRecord(project.root, task.id);
      return record === undefined || !isTerminal(record.state) || record.attempts.some(a => a.ended_at === undefined);
    });
    if (approved === 0 && !waiting) return;
  }
}

export async function runKillTorture(options: KillTortureOptions): Promise<KillTortureResult> {
  const started = Date.now();
  const random = seededRandom(options.seed);
  const minDelay = options.minDelayMs ?? 30;
  const maxDelay = options.maxDelayMs ?? 1000;
  const progress: KillTortureProgress = { round: 0, kills: 0, completedRuns: 0, tasks: 0, unknown: [], known: new Map(), knownChecks: new Map(), checks: 0 };
  const outcome: string[] = [];
  const projects: string[] = [];
  const note = (violations: readonly Violation[], root: string): void => {
    const { unknown, known } = splitKnown(violations, root);
    progress.checks += 1;
    progress.unknown.push(...unknown);
    for (const [bug, list] of known) {
      progress.known.set(bug, [...(progress.known.get(bug) ?? []), ...list]);
      progress.knownChecks.set(bug, (progress.knownChecks.get(bug) ?? 0) + 1);
    }
  };

  while (progress.kills < options.kills) {
    progress.round += 1;
    const dir = join(options.dir, `round-${progress.round}`);
    mkdirSync(dir, { recursive: true });
    const tasks = planTasks(options.tasks, options.seed + progress.round, options.mix);
    const project = makeTortureProject(dir, tasks);
    projects.push(project.root);
    progress.tasks += tasks.length;
    const outside = snapshotOutside(project.root, [project.outside]);
    const decisions = new Map<string, number>();
    const pending = new Set<string>();
    let viaCli = progress.round % 2 === 0;
    const approve = async (): Promise<number> => {
      // Every other approval goes through `orch approve` (to the inbox if a run holds the dir, else
      // applied under the lock); the others are dropped into the inbox as files.
      if (viaCli) {
        for (const task of tasks) {
          if (task.kind !== 'gated' || pending.has(task.id) || readRecord(project.root, task.id)?.state !== 'AWAITING_HUMAN') continue;
          pending.add(task.id);
          decisions.set(task.id, (decisions.get(task.id) ?? 0) + 1);
          const cli = await runOrch(project, ['approve', task.id, '--note', 'torture'], { timeoutMs: 60_000 });
          viaCli = false;
          if (cli.code === 0) return 1;
          // Refused: nothing was decided, and the person asks again. Counting it as made lost the
          // task's approval for good (seen at seed 20261208: a gated task left AWAITING_HUMAN). Only
          // the refusal the contract allows is taken (PRODUCT.md §8: without an orchestrator the
          // decision is applied under the lock, and one that starts meanwhile makes it fail); any
          // other is a problem of the round.
          pending.delete(task.id);
          decisions.set(task.id, (decisions.get(task.id) ?? 1) - 1);
          if (!CLI_REFUSAL_ALLOWED.test(cli.output)) outcome.push(`round ${progress.round}: \`orch approve ${task.id}\` failed (exit ${cli.code ?? cli.signal}): ${cli.output.trim().slice(-500)}`);
          return 0;
        }
        return 0;
      }
      const ids = await approveWaiting(project.root, tasks, pending);
      for (const id of ids) decisions.set(id, (decisions.get(id) ?? 0) + 1);
      if (ids.length > 0) viaCli = true;
      return ids.length;
    };

    let selfExits = 0;
    for (;;) {
      const allDone = (): boolean => [...readRecords(project.root).values()].length === tasks.length && tasks.every(task => {
        const record = readRecord(project.root, task.id);
        return record !== undefined && isTerminal(record.state);
      });
      if (progress.kills >= options.kills || allDone()) break;
      const run = startOrch(project, ['--resume', '--once']);
      const delay = minDelay + random() * (maxDelay - minDelay);
      const deadline = Date.now() + delay;
      let exited = false;
      void run.exited.then(() => (exited = true));
      while (!exited && Date.now() < deadline) {
        await approve();
        await new Promise(resolve => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
      }
      if (exited) {
        // Ended by itself (nothing runnable): it must have left a sound state dir behind.
        progress.completedRuns += 1;
        note(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, decisions }), project.root);
        await approve();
        // A run that keeps ending with work left (or cannot start) is for the final check to report.
        selfExits += 1;
        if (selfExits >= 3) break;
        continue;
      }
      selfExits = 0;
      await killNow(run);
      progress.kills += 1;
      note(await checkInvariants(project.root, { phase: 'crashed', marker: project.marker, outside, decisions }), project.root);
      options.onProgress?.(progress);
    }

    await finishRound(project, tasks, approve);
    note(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, decisions }), project.root);
    outcome.push(...outcomeProblems(project.root, tasks).map(problem => `round ${progress.round}: ${problem}`));
    options.onProgress?.(progress);
  }
  return { ...progress, rounds: progress.round, outcome, durationMs: Date.now() - started, projects };
}
