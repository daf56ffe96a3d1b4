// A remote attempt a dead run left open (orch --resume), followed to its end instead of stopped: its
// command runs on, on its host or in its Slurm job, so its work is not thrown away and not run twice.
// Its end is read from the same spool and judged as runAttempt judges an end it saw itself; an end
// written by another attempt is refused (the id the wrapper wrote names the run that started it).
import { join } from 'node:path';
import type { Attempt, RemoteRun, TaskRecord } from '../generated/types.js';
import type { Clock } from '../clock.js';
import type { ResolvedWorkflow } from '../machine/workflow.js';
import type { Executor, FollowedRun } from '../executors/executor.js';
import { attemptArtifacts } from '../runner/artifacts.js';
import { attemptMarkerId } from '../runner/session-marker.js';
import { recordPath, type StatePaths } from '../store/paths.js';
import { judgeOutcome, type AttemptFinishedEvent } from './attempt.js';

export interface FollowOptions {
  paths: StatePaths;
  record: TaskRecord;
  /** The open attempt, as the dead run recorded it. */
  attempt: Attempt;
  remote: RemoteRun;
  workflow: ResolvedWorkflow;
  follower: Required<Pick<Executor, 'follow'>>;
  outputCapBytes: number;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  /** Aborted to stop the command (a cancel, the orchestrator stopping). */
  signal: AbortSignal;
  isShuttingDown: () => boolean;
}

export async function followAttempt(options: FollowOptions): Promise<AttemptFinishedEvent> {
  const { paths, record, attempt, workflow } = options;
  // Its files as runAttempt named them (the ids checked again on the way: a path from a record).
  const artifacts = attemptArtifacts(paths.stateDir, { runId: attempt.run_id ?? '', taskId: record.id, attempt: attempt.n, phase: attempt.phase, stepId: attempt.step_id });
  const generation = attempt.generation ?? record.generation;
  const run: FollowedRun = {
    stdoutPath: artifacts.stdout,
    stderrPath: artifacts.stderr,
    outputCapBytes: options.outputCapBytes,
    // Counted from the attempt's own start: a restart does not give it a new timeout.
    timeoutMs: workflow.phases[attempt.phase].retry.timeout_s * 1000,
    signal: options.signal,
    clock: options.clock,
    env: {
      base: options.env,
      extra: {},
      context: {
        taskId: record.id,
        taskFile: join(paths.stateDir, record.spec_file),
        recordFile: recordPath(paths, record.id),
        phase: attempt.phase,
        stepId: attempt.step_id,
        attempt: attempt.n,
        artifactsDir: artifacts.dir,
        resultFile: artifacts.result,
        worktree: record.worktree,
        // The id its wrapper writes with its end names the run that started it.
        marker: { stateDir: paths.stateDir, session: attempt.run_id ?? '', attemptId: attemptMarkerId(record.id, generation, attempt.n) },
      },
    },
  };
  const startedAt = Date.parse(attempt.started_at);
  const outcome = await options.follower.follow(options.remote, run, Number.isNaN(startedAt) ? options.clock.now() : startedAt);
  return judgeOutcome({ n: attempt.n, outcome, phase: attempt.phase, workflow, clock: options.clock, shuttingDown: options.isShuttingDown(), artifacts });
}
