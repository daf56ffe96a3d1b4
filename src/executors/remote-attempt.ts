// What the remote executors (ssh, slurm) share: an attempt's spool name and the id written with its
// end, its command's environment and files as the far side sees them, the stop (timeout, cancel) of an
// attempt, and the judging of its end once its spool's files are read.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { constants, hostname } from 'node:os';
import { buildCommandEnv, type OrchEnvName } from '../runner/command-env.js';
import { COMMAND_REASONS, type CommandReason } from '../runner/outcome.js';
import { createOutputTail } from '../runner/output-sink.js';
import type { ExecutorOutcome, ExecutorRun, FollowedRun } from './executor.js';

/** How an attempt ended on the far side: the wrapper's exit code line. */
export interface RemoteEnd {
  /** 128+N when signal N ended the command. */
  code: number;
  /** The attempt id the wrapper was started with. */
  attemptId: string;
}

/** A file of the spool as read back: its whole size there (-1: no such file) and what was sent (capped). */
export interface CollectedFile {
  name: string;
  size: number;
  bytes: Buffer;
}

/** This coordinator's name in spool paths: two coordinators (machines, state dirs) never share a spool. */
export function coordinatorKey(stateDir: string): string {
  return createHash('sha256').update(`${hostname()}:${resolve(stateDir)}`).digest('hex').slice(0, 12);
}

/** An end that could not be seen (lost, or killed without a word): no code, no output. */
export const ENDED_UNSEEN = { reason: COMMAND_REASONS.failed, exit_code: null, signal: null, output_tail: '', truncated: { stdout: false, stderr: false } } as const;

/**
 * The ORCH_* variables that name files of this machine: on the far side they name the spool's, or
 * nothing. ORCH_STATE_DIR is also the local session marker: a remote command carrying it would be taken
 * for a dead run's local orphan (and stopped) when its host is this machine, although --resume follows it.
 */
const LOCAL_ONLY: readonly OrchEnvName[] = ['ORCH_RECORD_FILE', 'ORCH_WORKTREE', 'ORCH_BASE_SHA', 'ORCH_STATE_DIR'];

/**
 * The attempt's spool folder name, `<generation>.<attempt>.<task>` (unique per attempt of a task: ids
 * hold no slash), and the id written with its end, `<run>/<task>/<generation>/<attempt>`.
 */
export function attemptSpool(run: FollowedRun): { spoolName: string; endId: string } {
  const context = run.env.context;
  const attemptId = context.marker?.attemptId ?? `${context.taskId}/0/${context.attempt}`;
  const [, generation = '0', n = '0'] = attemptId.split('/').slice(-3);
  return { spoolName: `${generation}.${n}.${context.taskId}`, endId: `${context.marker?.session ?? 'run'}/${attemptId}` };
}

/**
 * The command as the far side runs it: its environment (no variable of this machine's own: the host
 * has its own; the phase's `env` and the ORCH_* ones), the files it is given (the task spec, feedback)
 * to put in its spool, and its argv; every mention of the local artifacts folder (and worktree) names
 * the spool (and the far side's worktree) instead.
 */
export function remoteCommand(run: ExecutorRun, spool: string, worktree?: { local: string; remote: string; baseSha: string }): { env: Record<string, string>; files: Record<string, Buffer>; argv: string[] } {
  const context = run.env.context;
  const toRemote = (text: string): string => {
    const spooled = text.split(context.artifactsDir).join(spool);
    return worktree === undefined ? spooled : spooled.split(worktree.local).join(worktree.remote);
  };
  const env = buildCommandEnv({}, context, run.env.extra);
  for (const name of LOCAL_ONLY) delete env[name];
  const files: Record<string, Buffer> = {};
  const taskFileName = `task-spec${specExtension(context.taskFile)}`;
  if (existsSync(context.taskFile)) files[taskFileName] = readFileSync(context.taskFile);
  env.ORCH_TASK_FILE = `${spool}/${taskFileName}`;
  if (context.feedbackFile !== undefined) files['feedback.md'] = readFileSync(context.feedbackFile);
  if (worktree !== undefined) Object.assign(env, { ORCH_WORKTREE: worktree.remote, ORCH_BASE_SHA: worktree.baseSha });
  for (const [name, value] of Object.entries(env)) env[name] = toRemote(value);
  const argv = run.shell === true ? ['/bin/sh', '-c', run.argv.join(' ')] : run.argv;
  return { env, files, argv: argv.map(toRemote) };
}

/**
 * The outcome of an attempt whose end was seen: its output files written here (or why they could not
 * be read), the end refused when it names another attempt (fail closed), 128+N read as signal N, and
 * a stop this side asked for (timeout, cancel) as the reason.
 */
export function judgeEnd(run: FollowedRun, files: CollectedFile[] | Error, end: RemoteEnd, ending: Ending, startedAt: number, where: string): ExecutorOutcome {
  const tail = createOutputTail();
  const truncated = { stdout: false, stderr: false };
  let outputError = files instanceof Error ? files.message : undefined;
  for (const file of files instanceof Error ? [] : files) {
    if (file.size < 0) continue;
    try {
      if (file.name === 'stdout' || file.name === 'stderr') {
        writeFileSync(file.name === 'stdout' ? run.stdoutPath : run.stderrPath, file.bytes);
        truncated[file.name] = file.size > file.bytes.length;
        tail.push(file.bytes);
      } else if (file.name === 'result.json') writeFileSync(run.env.context.resultFile, file.bytes);
    } catch (error) {
      outputError ??= `${file.name} could not be written here: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  const expected = attemptSpool(run).endId;
  const base = { duration_ms: Date.now() - startedAt, output_tail: tail.text(), truncated, ...(outputError !== undefined && { output_error: outputError }) };
  if (end.attemptId !== expected) {
    return { ...base, reason: COMMAND_REASONS.failed, exit_code: null, signal: null, error: `the end found on ${where} is of attempt ${end.attemptId}, not ${expected}: refused` };
  }
  const signalName = end.code > 128 ? signalOf(end.code - 128) : undefined;
  const exit = signalName === undefined ? { exit_code: end.code, signal: null } : { exit_code: null, signal: signalName };
  const reason: CommandReason = ending.reason ?? (end.code === 0 ? COMMAND_REASONS.succeeded : COMMAND_REASONS.failed);
  const error = describeEnd(reason, exit, run, where);
  return { ...base, reason, ...exit, ...(error !== undefined && { error }) };
}

/** Why an attempt is being stopped (its timeout, or a cancel), and the promises that say so. */
export class Ending {
  readonly run: FollowedRun;
  reason: 'timed_out' | 'stalled' | 'cancelled' | undefined;
  readonly stopped: Promise<void>;
  readonly cancelled: Promise<void>;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort: () => void;
  /** No output for the run's stall timeout (an executor that sees output grow says so). */
  readonly stall: () => void;

  constructor(run: FollowedRun, startedAt: number) {
    this.run = run;
    let stop: () => void = () => undefined;
    this.stopped = new Promise(resolve => (stop = resolve));
    let cancel: () => void = () => undefined;
    this.cancelled = new Promise(resolve => (cancel = resolve));
    const request = (reason: 'timed_out' | 'stalled' | 'cancelled'): void => {
      this.reason ??= reason;
      stop();
      if (reason === 'cancelled') cancel();
    };
    this.stall = () => request('stalled');
    this.onAbort = () => request('cancelled');
    run.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (run.signal?.aborted === true) this.onAbort();
    this.timer = run.timeoutMs === undefined ? undefined : setTimeout(() => request('timed_out'), Math.max(0, startedAt + run.timeoutMs - Date.now()));
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.run.signal?.removeEventListener('abort', this.onAbort);
  }
}

function describeEnd(reason: CommandReason, exit: { exit_code: number | null; signal: string | null }, run: FollowedRun, host: string): string | undefined {
  switch (reason) {
    case COMMAND_REASONS.succeeded:
      return undefined;
    case COMMAND_REASONS.timed_out:
    case COMMAND_REASONS.cancelled:
    case COMMAND_REASONS.stalled:
      return `${stopText(reason, run)}: its process group on ${host} was stopped`;
    default:
      return exit.signal !== null ? `killed by ${exit.signal} on ${host}` : `exited with code ${exit.exit_code ?? 'unknown'} on ${host}`;
  }
}

/** Why this side stopped a command, in words: "timed out after 30s", "stalled: no output for 5s", "cancelled". */
export function stopText(reason: 'timed_out' | 'stalled' | 'cancelled', run: FollowedRun): string {
  if (reason === 'timed_out') return `timed out after ${Math.round((run.timeoutMs ?? 0) / 1000)}s`;
  if (reason === 'stalled') return `stalled: no output for ${Math.round((run.stallTimeoutMs ?? 0) / 1000)}s`;
  return 'cancelled';
}

function signalOf(number: number): string | undefined {
  return Object.entries(constants.signals).find(([, value]) => value === number)?.[0];
}

/** The spec file's extension (.md, .json…), so the copy on the host reads as what it is. */
function specExtension(path: string): string {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot) : '';
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
