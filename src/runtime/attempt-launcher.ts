// The supervision of running attempts (split out of engine.ts, issue 16): an attempt launched in a
// worker slot (its worktree set up, its command run through its executor, its start and end written
// to the record, checkpointed, its worktree removed once the task is DONE), and a remote attempt a dead
// run left, followed to its end (orch --resume). Each running task has its entry in `running` (its
// cancel, its end) until its worker is free again; a launch whose attempt could not be written is not
// tried again before its backoff. What it needs of the engine is LauncherHost.
import type { Attempt, OrchConfig, TaskRecord, Worktree } from '../generated/types.js';
import type { Clock } from '../clock.js';
import { isOrchError } from '../errors.js';
import { nextAttemptNumber, type PhaseRun, type TaskEvent } from '../machine/transition.js';
import type { ResolvedWorkflow } from '../machine/workflow.js';
import type { LogEntry } from '../runlog/run-log.js';
import type { StatePaths } from '../store/paths.js';
import type { Executors } from '../executors/executor.js';
import type { AttemptFinishedEvent, AttemptOptions } from './attempt.js';
import { followAttempt } from './follow-attempt.js';
import type { TaskWorktrees } from './task-worktrees.js';
import type { WorkerPool } from './workers.js';

/** First and longest wait between tries of a write that must land (an attempt's end on a full disk). */
export const LANDING_RETRY_MS = { first: 50, max: 5000 } as const;

/** Most bytes of stdout and of stderr kept per attempt, when the config does not say. */
export const DEFAULT_OUTPUT_CAP_BYTES = 10 * 1024 * 1024;

/** A task whose attempt runs: its cancel, and its end (its worker free again). */
export interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/** What the launcher needs of the engine. */
export interface LauncherHost {
  paths: StatePaths;
  runId: string;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  config: () => OrchConfig;
  workflowFor: (record: TaskRecord) => ResolvedWorkflow;
  /** True once the orchestrator is shutting down (a command stopped then was interrupted, not cancelled). */
  isStopping: () => boolean;
  applyStrict: (id: string, events: readonly TaskEvent[], onWritten?: () => void, seed?: TaskRecord) => Promise<TaskRecord | undefined>;
  applyUntilLanded: (id: string, event: TaskEvent) => Promise<void>;
  reportOnce: (key: string, message: string, details: string[], taskId?: string) => Promise<void>;
  log: (entry: LogEntry) => Promise<void>;
  /** The next pass should come now (a worker is free, a task ended). */
  wake: () => void;
}

export class AttemptLauncher {
  /** The tasks whose attempt runs, by id. */
  readonly running = new Map<string, Running>();
  /** Tasks whose last launch could not write its attempt (a full disk): not launched again before `until`. */
  private readonly launchBackoff = new Map<string, { until: number; wait: number }>();
  private readonly host: LauncherHost;
  private readonly workers: WorkerPool;
  private readonly executors: Executors;
  private readonly worktrees: TaskWorktrees;

  constructor(host: LauncherHost, workers: WorkerPool, executors: Executors, worktrees: TaskWorktrees) {
    this.host = host;
    this.workers = workers;
    this.executors = executors;
    this.worktrees = worktrees;
  }

  /** When a task whose last launch could not be written may be launched again (undefined: now). */
  backoffUntil(id: string): number | undefined {
    return this.launchBackoff.get(id)?.until;
  }

  /**
   * Runs one attempt of `run` in `worker`. With `startFirst`, `record` is the preview of a NEW task's
   * start, and the start is written together with the attempt; with a `seed` as well, the task has no
   * record yet and that write creates it from the seed.
   */
  launch(record: TaskRecord, run: PhaseRun, worker: string, startFirst: boolean, seed?: TaskRecord): void {
    const controller = new AbortController();
    const paths = this.host.paths;
    const config = this.host.config();
    let started = false;
    let startWrite: Promise<unknown> | undefined;
    const done = (async () => {
      this.workers.busy(worker, record.id, run.phase);
      let worktree: Worktree | undefined;
      let setupError: string | undefined;
      try {
        ({ record, worktree, startFirst, seed } = await this.worktrees.isolate(record, startFirst, seed));
      } catch (error) {
        if (!isOrchError(error)) throw error;
        setupError = `the task's worktree could not be set up: ${error.message}${error.hint === undefined ? '' : ` (${error.hint})`}`;
      }
      const n = nextAttemptNumber(record);
      const workflow = this.host.workflowFor(record);
      const attemptOptions: AttemptOptions = {
        paths,
        runId: this.host.runId,
        record,
        run,
        n,
        workflow,
        worker,
        executor: this.executors.get(workflow.phases[run.phase].executor),
        launcher: this.workers.launcherOf(worker),
        outputCapBytes: config.output_cap_bytes ?? DEFAULT_OUTPUT_CAP_BYTES,
        clock: this.host.clock,
        env: this.host.env,
        signal: controller.signal,
        isShuttingDown: () => this.host.isStopping(),
        ...(worktree !== undefined && { worktree }),
        ...(setupError !== undefined && { setupError }),
        // Runs while the command starts (no spawn gate: run-command.ts). Throws when the attempt cannot
        // be written: the command is then stopped at once, never left running untracked. Resolves once
        // the record is written, without waiting for the log lines.
        onStarted: attempt =>
          new Promise<void>((resolve, reject) => {
            const events: TaskEvent[] = [{ type: 'attempt_started', attempt }];
            if (startFirst) events.unshift({ type: 'start' });
            const written = (): void => {
              started = true;
              resolve();
            };
            startWrite = this.host.applyStrict(record.id, events, written, seed).then(written, reject);
          }),
      };
      const attemptEvent = await this.worktrees.runPhase(run, worktree, attemptOptions).catch(async (error: unknown): Promise<AttemptFinishedEvent> => {
        // The runner failed once the attempt was in the record: it killed the command, and the attempt
        // must be closed. Before that (the start write failed), the error is reported below and the
        // task launched again later.
        await startWrite?.catch(() => undefined);
        if (!started) throw error;
        return lostCommand(n, error);
      });
      // A command stopped while its attempt was being written (a restart, a cancel) returns before
      // that write settles: whether the attempt is in the record is known only once it has.
      await startWrite?.catch(() => undefined);
      if (started) await this.settle(record, run, n, worker, worktree, attemptEvent);
      else if (worktree !== undefined) await this.worktrees.removeWorktreeOfDone(record.id, worktree);
    })()
      .catch((error: unknown) => this.crashed(record.id, worker, error))
      .finally(() => {
        if (started) {
          this.launchBackoff.delete(record.id);
        } else {
          // The attempt could not be written, so its command never ran: try again later, not in a loop.
          const wait = Math.min((this.launchBackoff.get(record.id)?.wait ?? LANDING_RETRY_MS.first / 2) * 2, LANDING_RETRY_MS.max);
          this.launchBackoff.set(record.id, { until: this.host.clock.now() + wait, wait });
        }
        // The task counts as running until its worker is free again: otherwise a pass in between
        // sees neither a running task nor a free worker and takes the engine for idle.
        this.workers.release(worker);
        this.running.delete(record.id);
        this.host.wake();
      });
    this.running.set(record.id, { controller, done });
  }

  /**
   * Follows a dead run's remote attempt (Engine.followLeftover) to its end, in the worker it ran in (or any free
   * one): the task counts as running meanwhile, and the end is settled as launch() settles its own.
   */
  follow(record: TaskRecord, attempt: Attempt): void {
    const remote = attempt.remote;
    const follower = remote === undefined ? undefined : this.executors.follower(remote);
    if (remote === undefined || follower === undefined) return;
    const controller = new AbortController();
    const worker = this.workers.take(attempt.worker);
    const run = { phase: attempt.phase, step_id: attempt.step_id };
    const done = (async () => {
      if (worker !== undefined) this.workers.busy(worker, record.id, attempt.phase);
      const where = remote.job_id === undefined ? `${remote.host} (process group ${remote.pgid ?? '?'})` : `${remote.host} (job ${remote.job_id})`;
      await this.host.log({ category: 'task', level: 'info', task_id: record.id, message: `Attempt ${attempt.n} of task ${record.id} (${attempt.phase}) still runs on ${where}, started by run ${attempt.run_id}: this run follows it to its end` });
      const followed = await followAttempt({
        paths: this.host.paths,
        record,
        attempt,
        remote,
        workflow: this.host.workflowFor(record),
        follower,
        outputCapBytes: this.host.config().output_cap_bytes ?? DEFAULT_OUTPUT_CAP_BYTES,
        clock: this.host.clock,
        env: this.host.env,
        signal: controller.signal,
        isShuttingDown: () => this.host.isStopping(),
      }).catch((error: unknown) => lostCommand(attempt.n, error));
      await this.settle(record, run, attempt.n, worker, record.worktree, { ...followed, adopted_by: this.host.runId });
    })()
      .catch((error: unknown) => this.crashed(record.id, worker, error))
      .finally(() => {
        if (worker !== undefined) this.workers.release(worker);
        this.running.delete(record.id);
        this.host.wake();
      });
    this.running.set(record.id, { controller, done });
  }

  /**
   * An attempt's end, once its start is in the record: checkpointed (worktree), told to its worker,
   * written until it lands, and a DONE task's worktree removed.
   */
  private async settle(record: TaskRecord, run: Pick<PhaseRun, 'phase' | 'step_id'>, n: number, worker: string | undefined, worktree: Worktree | undefined, ended: AttemptFinishedEvent): Promise<void> {
    const event = worktree === undefined ? ended : await this.worktrees.checkpointAfter(record, run, n, worktree, ended);
    if (worker !== undefined) this.workers.ended(worker, record.id, run.phase, event);
    await this.host.applyUntilLanded(record.id, event);
    if (worktree !== undefined) await this.worktrees.removeWorktreeOfDone(record.id, worktree);
  }

  /**
   * A launch or a follow that failed outside the attempt's own end (a bug, a disk that refuses even the
   * report): said, never an unhandled rejection that ends the orchestrator.
   */
  private async crashed(id: string, worker: string | undefined, error: unknown): Promise<void> {
    if (worker !== undefined) this.workers.failed(worker, error);
    await this.host.reportOnce(`${id}:crash:${String(error)}`, `Task ${id}: ${(error as Error).message ?? String(error)}`, [], id).catch(() => undefined);
  }
}

/**
 * The end of an attempt whose command the orchestrator lost hold of (its runner or its follow failed):
 * closed, or the task would stay running with nothing to end it; retryable, since nothing is known to be
 * wrong with the command.
 */
function lostCommand(n: number, error: unknown): AttemptFinishedEvent {
  const why = error instanceof Error ? error.message : String(error);
  return { type: 'attempt_finished', n, reason: 'failed', retryable: true, exit_code: null, signal: null, error: `the orchestrator lost the command: ${why}` };
}
