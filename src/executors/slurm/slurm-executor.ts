// The slurm executor (specs/executors.md): each attempt is a batch job whose script is the spool
// wrapper's `run` (the command in a process group of its own, its exit code written to the attempt's
// spool on the filesystem this machine shares with the compute nodes). The end is that file, looked
// for here; Slurm is asked only whether the job is still there. A job gone without an exit code ended
// by Slurm's hand: its time limit (timed out), an scancel from outside (failed), or a loss (a node
// failure, a purge: interrupted, retried without spending an attempt).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OrchConfig, RemoteRun } from '../../generated/types.js';
import { shellQuote } from '../../cli/format/text.js';
import { COMMAND_REASONS } from '../../runner/outcome.js';
import type { Executor, ExecutorOutcome, ExecutorRun, FollowedRun } from '../executor.js';
import { ENDED_UNSEEN, Ending, attemptSpool, coordinatorKey, judgeEnd, remoteCommand, sleep, stopText, type CollectedFile, type RemoteEnd } from '../remote-attempt.js';
import { spoolWrapper } from '../spool-wrapper.js';
import { OutputMirror } from '../output-mirror.js';
import { jobEnding, sbatch, scancel, squeueState } from './slurm-commands.js';

type SlurmConfig = NonNullable<NonNullable<OrchConfig['executors']>['slurm']>;

/** How often the spool is looked at for the exit code (a stat: cheap). */
const END_POLL_MS = 200;
/** How often Slurm is asked whether the job is still there. */
const QUEUE_POLL_MS = 2000;
/** A job gone from the queue may have written its exit code a moment before (a shared filesystem's caches). */
const GONE_GRACE_MS = 3000;
/** After orch's own scancel, how long the job may take to leave the queue. */
const GONE_AFTER_CANCEL_MS = 60_000;
/** squeue states of a job not yet running its command. */
const WAITING_STATES = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'RESV_DEL_HOLD', 'SUSPENDED']);
/** The cluster's name in records and logs. */
const CLUSTER = 'slurm';

export class SlurmExecutor implements Executor {
  private readonly config: SlurmConfig;
  private readonly env: NodeJS.ProcessEnv;
  private readonly spoolRoot: string;

  constructor(config: SlurmConfig, stateDir: string, env: NodeJS.ProcessEnv) {
    this.config = config;
    this.env = env;
    this.spoolRoot = join(config.spool_dir, coordinatorKey(stateDir));
  }

  async run(run: ExecutorRun): Promise<ExecutorOutcome> {
    const began = Date.now();
    const { spoolName, endId } = attemptSpool(run);
    const spool = join(this.spoolRoot, spoolName);
    let job: string;
    try {
      rmSync(spool, { recursive: true, force: true }); // a spool serves one attempt: an earlier try's is stale
      mkdirSync(spool, { recursive: true });
      const { env, files, argv } = remoteCommand(run, spool);
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(spool, name), bytes);
      writeFileSync(run.stdoutPath, '');
      writeFileSync(run.stderrPath, '');
      const script = `#!/bin/sh\nexec sh ${shellQuote(this.wrapper())} run ${shellQuote(spool)} ${shellQuote(endId)} -- ${argv.map(shellQuote).join(' ')}\n`;
      job = await sbatch(this.sbatchArgs(run, spool), script, { ...this.env, ...env });
    } catch (error) {
      return { ...ENDED_UNSEEN, duration_ms: Date.now() - began, error: `the job could not be submitted: ${error instanceof Error ? error.message : String(error)}` };
    }
    const startedAt = Date.now();
    const remote: RemoteRun = { executor: 'slurm', host: CLUSTER, spool, job_id: job };
    const ending = new Ending(run, startedAt);
    try {
      await Promise.race([run.onSpawn?.({ remote }), ending.cancelled]);
    } catch (error) {
      await scancel(job, this.env).catch(() => undefined);
      const why = error instanceof Error ? error.message : String(error);
      return { ...ENDED_UNSEEN, duration_ms: Date.now() - startedAt, error: `stopped: onSpawn failed (${why}), so its job could not be recorded`, onSpawnError: error };
    }
    return this.finish(job, spool, run, ending, startedAt);
  }

  /** Follows the job of a dead run's attempt (orch --resume) to its end: it may have ended meanwhile. */
  async follow(remote: RemoteRun, run: FollowedRun, startedAt: number): Promise<ExecutorOutcome> {
    if (remote.job_id === undefined || !remote.spool.startsWith(`${this.spoolRoot}/`)) {
      const lost = `the attempt names no job of this coordinator's spool (${remote.spool}): it cannot be followed`;
      return { ...ENDED_UNSEEN, duration_ms: 0, error: lost, lost };
    }
    return this.finish(remote.job_id, remote.spool, run, new Ending(run, startedAt), startedAt);
  }

  /** The job's end (its spool's exit code, or how Slurm ended it), its output read, its spool removed. */
  private async finish(job: string, spool: string, run: FollowedRun, ending: Ending, startedAt: number): Promise<ExecutorOutcome> {
    const mirror = new OutputMirror(spool, { stdout: run.stdoutPath, stderr: run.stderrPath }, run.outputCapBytes);
    const { end, scancelSent } = await this.waitForEnd(job, spool, ending, mirror);
    ending.dispose();
    const outcome = typeof end === 'object' && 'code' in end ? await this.fromSpool(job, spool, run, end, ending, startedAt, scancelSent) : this.unseen(end, job, ending, startedAt);
    rmSync(spool, { recursive: true, force: true });
    return outcome;
  }

  /**
   * The end the wrapper wrote. Whoever cancelled the job, its end is worded as it is when the job is
   * seen gone from the queue first: orch's own stop as "…: job N was cancelled (scancel)", and a
   * command killed by a TERM orch did not send, when the job ends CANCELLED, as an scancel from outside.
   */
  private async fromSpool(job: string, spool: string, run: FollowedRun, end: RemoteEnd, ending: Ending, startedAt: number, scancelSent: boolean): Promise<ExecutorOutcome> {
    const outcome = judgeEnd(run, readSpool(spool, run.outputCapBytes), end, ending, startedAt, `job ${job}`);
    if (ending.reason !== undefined && scancelSent && outcome.reason === ending.reason) return { ...outcome, error: `${stopText(ending.reason, run)}: job ${job} was cancelled (scancel)` };
    if (ending.reason !== undefined || outcome.signal !== 'SIGTERM') return outcome;
    const state = await settledJobState(job, this.env);
    return state?.startsWith('CANCELLED') === true ? { ...outcome, error: `job ${job} was cancelled outside orch (scancel)` } : outcome;
  }

  async close(): Promise<void> {
    // Nothing held open: every Slurm command is its own process.
  }

  private sbatchArgs(run: ExecutorRun, spool: string): string[] {
    const workdir = this.config.workdir ?? run.env.context.worktree?.path ?? run.cwd;
    const args = [`--job-name=orch-${run.env.context.taskId}`, `--output=${join(spool, 'slurm.out')}`, `--chdir=${workdir}`, '--export=ALL', '--no-requeue'];
    // Slurm's own limit is a backstop a minute past orch's timeout (orch cancels first, and says why).
    if (run.timeoutMs !== undefined) args.push(`--time=${Math.ceil(run.timeoutMs / 60_000) + 1}`);
    if (this.config.partition !== undefined) args.push(`--partition=${this.config.partition}`);
    return [...args, ...(this.config.sbatch_args ?? [])];
  }

  /** The wrapper on the shared filesystem, copied there once (by rename: a job never reads half of it). */
  private wrapper(): string {
    const { source, path } = spoolWrapper();
    const target = join(this.config.spool_dir, path);
    if (!existsSync(target)) {
      mkdirSync(dirname(target), { recursive: true });
      const temp = `${target}.${process.pid}.tmp`;
      writeFileSync(temp, source, { mode: 0o755 });
      renameSync(temp, target);
    }
    return target;
  }

  /**
   * The end from the spool; a stop (timeout, cancel) cancels the job first. Else how the job left the
   * queue without an end: the state slurmctld still knows (TIMEOUT, CANCELLED…), or 'lost'.
   */
  private async waitForEnd(job: string, spool: string, ending: Ending, mirror: OutputMirror): Promise<{ end: RemoteEnd | { gone: string } | 'lost' | 'stopped'; scancelSent: boolean }> {
    let scancelSent = false;
    const ended = (end: RemoteEnd | { gone: string } | 'lost' | 'stopped') => ({ end, scancelSent });
    let cancelledAt: number | undefined;
    let goneAt: number | undefined;
    let askedAt = Date.now();
    // The stall clock runs from the job's start (squeue no longer says it waits) or its first output.
    let outputAt = Date.now();
    let started = false;
    const stallMs = ending.run.stallTimeoutMs;
    for (;;) {
      if (mirror.copyNew()) {
        outputAt = Date.now(); // the job's output so far, for orch tail and the board
        started = true;
      }
      const end = readEnd(spool);
      if (end !== undefined) return ended(end);
      const now = Date.now();
      if (!started) outputAt = now;
      if (stallMs !== undefined && ending.reason === undefined && now - outputAt >= stallMs) ending.stall();
      if (ending.reason !== undefined && cancelledAt === undefined) {
        cancelledAt = now;
        await scancel(job, this.env).then(
          () => (scancelSent = true),
          () => (cancelledAt = undefined), // asked again at the next look
        );
      }
      if (now - askedAt >= QUEUE_POLL_MS || (goneAt !== undefined && now - goneAt >= GONE_GRACE_MS)) {
        askedAt = now;
        const state = await squeueState(job, this.env).catch(() => 'UNKNOWN'); // slurmctld down: not gone
        if (state !== undefined && state !== 'UNKNOWN' && !WAITING_STATES.has(state)) started = true;
        if (state === undefined) {
          goneAt ??= now;
          if (now - goneAt >= GONE_GRACE_MS) {
            if (cancelledAt !== undefined) return ended('stopped');
            const known = await jobEnding(job, this.env).catch(() => undefined);
            return ended(known === undefined ? 'lost' : { gone: known.state });
          }
        } else goneAt = undefined;
      }
      if (cancelledAt !== undefined && now - cancelledAt > GONE_AFTER_CANCEL_MS) return ended('stopped');
      await Promise.race([sleep(END_POLL_MS), ...(cancelledAt === undefined ? [ending.stopped] : [])]);
    }
  }

  private unseen(end: { gone: string } | 'lost' | 'stopped', job: string, ending: Ending, startedAt: number): ExecutorOutcome {
    const duration_ms = Date.now() - startedAt;
    if (end === 'stopped') {
      const reason = ending.reason ?? COMMAND_REASONS.cancelled;
      return { ...ENDED_UNSEEN, reason, duration_ms, error: `${stopText(reason, ending.run)}: job ${job} was cancelled (scancel)` };
    }
    const state = end === 'lost' ? undefined : end.gone;
    if (state?.startsWith('TIMEOUT') === true) return { ...ENDED_UNSEEN, reason: COMMAND_REASONS.timed_out, duration_ms, error: `job ${job} was ended by Slurm at its time limit` };
    if (state?.startsWith('CANCELLED') === true) return { ...ENDED_UNSEEN, duration_ms, error: `job ${job} was cancelled outside orch (scancel)` };
    const lost = `job ${job} left the queue without an exit code (${state === undefined ? 'Slurm no longer knows it' : `JobState ${state}`}): the attempt is lost`;
    return { ...ENDED_UNSEEN, duration_ms, error: lost, lost };
  }
}

/** How long a job may stay COMPLETING once its command has ended, before its state is taken as it is. */
const COMPLETING_WAIT_MS = 10_000;

/**
 * The job's state once it has finished completing: at scancel's TERM a job is COMPLETING, not yet
 * CANCELLED (measured on the test cluster, specs/executors.md). Undefined when Slurm cannot say.
 */
async function settledJobState(job: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const until = Date.now() + COMPLETING_WAIT_MS;
  for (;;) {
    const state = (await jobEnding(job, env).catch(() => undefined))?.state;
    if (state === undefined || !/^(COMPLETING|RUNNING)/.test(state) || Date.now() >= until) return state;
    await sleep(END_POLL_MS);
  }
}

/** The wrapper's exitcode line of a spool, if written. */
function readEnd(spool: string): RemoteEnd | undefined {
  let text: string;
  try {
    text = readFileSync(join(spool, 'exitcode'), 'utf8');
  } catch {
    return undefined;
  }
  const match = /^(\d+) (\S+)\n?$/.exec(text);
  return match === null ? undefined : { code: Number(match[1]), attemptId: match[2] ?? '' };
}

/** The spool's output files, each cut at `cap` bytes (read no further), as the ssh executor collects them. */
function readSpool(spool: string, cap: number): CollectedFile[] {
  return ['stdout', 'stderr', 'result.json'].map(name => {
    let fd: number;
    try {
      fd = openSync(join(spool, name), 'r');
    } catch {
      return { name, size: -1, bytes: Buffer.alloc(0) };
    }
    try {
      const size = fstatSync(fd).size;
      const bytes = Buffer.alloc(Math.min(size, cap));
      let at = 0;
      while (at < bytes.length) {
        const read = readSync(fd, bytes, at, bytes.length - at, at);
        if (read === 0) break;
        at += read;
      }
      return { name, size, bytes: bytes.subarray(0, at) };
    } finally {
      closeSync(fd);
    }
  });
}
