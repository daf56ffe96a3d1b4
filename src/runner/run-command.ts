// Runs one phase command as the leader of its own process group, streams its output to capped
// files, and turns how it ended into a CommandOutcome. A failing command is a result, not a throw.
//
// execa 9 spawns it (`detached`, `buffer: false`, `reject: false`), but the runner owns the ending:
// execa's `timeout`/`cancelSignal` kill only the direct child and its promise waits for every holder of
// the stdout pipe, so a grandchild that keeps stdout open would hold the attempt forever. Here the
// attempt settles on the leader's own `exit` event; then the rest of the group is stopped, the pipes are
// drained for a bounded time, and reading stops (a destroyed readable is an abort that execa ignores).
//
// No spawn gate: the command starts at once, and `onSpawn` (the caller recording its identity) runs
// while it does. An orchestrator that dies before that write leaves a command no record names; every
// command carries the session marker in its environment (src/runner/session-marker.ts), by which
// `orch --resume` and `orch doctor` find and stop it (PRODUCT.md §7). Until phase 5 of the performance
// work, a shell held each command at a gate until the write was done: an extra exec and a wait per
// attempt on the hot path.
import { execa } from 'execa';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { systemClock, type Clock } from '../clock.js';
import type { ProcessIdentity } from '../generated/types.js';
import { bootId, identityOf } from '../store/process-identity.js';
import { COMMAND_REASONS, type CommandOutcome, type CommandReason } from './outcome.js';
import { createOutputTail, openCappedFile, type CappedFile } from './output-sink.js';
import { GROUP_STOP, groupIsAlive, signalGroup, terminateGroup } from './process-group.js';
import { resolveCommand } from './resolve-command.js';
import { describeSpawnError, spawnErrorCode, watchSpawn } from './spawn-error.js';

/** Between SIGTERM and SIGKILL when a group is stopped. */
export const DEFAULT_KILL_GRACE_MS = 5000;
/** After the group is gone, how long the pipes may stay open (held by a process that left the group). */
export const STREAM_DRAIN_GRACE_MS = 2000;

/** Resolves when `signal` aborts (never without one). */
function abortedPromise(signal: AbortSignal | undefined): Promise<void> {
  return new Promise(resolve => {
    if (signal === undefined) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export type OutputStreamName = 'stdout' | 'stderr';

export interface RunCommandOptions {
  argv: string[];
  /** Run argv through /bin/sh -c (argv joined by spaces): only where the config says `shell: true`. */
  shell?: boolean;
  cwd: string;
  /** The whole environment of the command (the parent's is not added): see buildCommandEnv. */
  env: Record<string, string>;
  /** A prefix such as ['ssh', 'host1'], prepended to argv. */
  launcher?: string[];
  stdoutPath: string;
  stderrPath: string;
  /** Most bytes kept in each output file; the rest is read and dropped. */
  outputCapBytes: number;
  timeoutMs?: number;
  /** No output on either stream for this long: the command is stuck. */
  stallTimeoutMs?: number;
  /** Aborting it stops the command (reason `cancelled`). */
  signal?: AbortSignal;
  killGraceMs?: number;
  /**
   * Called with the process identity as soon as the process exists, while the command runs. Its end is
   * not waited on before this resolves; when it throws, the command is stopped (RunOutcome.onSpawnError).
   */
  onSpawn?: (identity: ProcessIdentity) => Promise<void>;
  onOutput?: (stream: OutputStreamName, chunk: Buffer) => void;
  clock?: Clock;
}

export interface RunOutcome extends CommandOutcome {
  /**
   * What `onSpawn` threw. The command was stopped at once (reason `failed`, no exit code, no signal):
   * it ran for no longer than the failed write took. Not part of any file: the caller decides.
   */
  onSpawnError?: unknown;
}

type StopReason = 'timed_out' | 'stalled' | 'cancelled';

export async function runCommand(options: RunCommandOptions): Promise<RunOutcome> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const argv = [...(options.launcher ?? []), ...options.argv];
  const file = argv[0] ?? '';
  const notStarted = (error: string, spawnError?: string): RunOutcome => ({
    reason: COMMAND_REASONS.failed,
    exit_code: null,
    signal: null,
    duration_ms: clock.now() - startedAt,
    error,
    output_tail: '',
    truncated: { stdout: false, stderr: false },
    ...(spawnError === undefined ? {} : { spawn_error: spawnError }),
  });

  if (file === '') return notStarted('the command is empty: nothing to run');
  if (options.signal?.aborted) return { ...notStarted('cancelled before it started'), reason: COMMAND_REASONS.cancelled };
  const cwdProblem = directoryProblem(options.cwd);
  if (cwdProblem !== undefined) return notStarted(`cannot run ${JSON.stringify(file)}: ${cwdProblem}`, 'ENOENT');

  const stdoutFile = await openCappedFile(options.stdoutPath, options.outputCapBytes);
  const stderrFile = await openCappedFile(options.stderrPath, options.outputCapBytes).catch(async (error: unknown) => {
    await stdoutFile.close();
    throw error;
  });
  const closeFiles = () => Promise.all([stdoutFile.close(), stderrFile.close()]);

  let subprocess: ReturnType<typeof spawnCommand>;
  const spawnWatch = watchSpawn();
  try {
    subprocess = spawnCommand(options.shell === true ? ['/bin/sh', '-c', argv.join(' ')] : argv, options);
    spawnWatch.stop();
  } catch (thrown) {
    // execa refuses some arguments before spawning (a NUL byte in an argument…), and throws a
    // TypeError when Node's spawn failed with EMFILE: the child's own error says why.
    spawnWatch.stop();
    const error = (await spawnWatch.error()) ?? thrown;
    await closeFiles();
    const code = spawnErrorCode(error);
    return notStarted(describeSpawnError(file, code, argvBytes(argv), (error as Error).message, options.cwd), code ?? 'EINVAL');
  }
  // A spawn that fails (EMFILE, EAGAIN…) also emits 'error': execa's result reports it, and an
  // 'error' with no listener would end the orchestrator.
  subprocess.on('error', () => undefined);
  const pid = subprocess.pid;
  if (pid === undefined) {
    const result = await subprocess; // reject: false, so a failed result, never a throw
    await closeFiles();
    const code = spawnErrorCode(result);
    return notStarted(describeSpawnError(file, code, argvBytes(argv), result.shortMessage ?? 'spawn failed', options.cwd), code ?? 'UNKNOWN');
  }

  try {
    // Everything below only records facts; deciding happens after onSpawn.
    let leaderExited = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => {
      subprocess.once('exit', (code, signal) => {
        leaderExited = true;
        resolve({ code, signal });
      });
    });
    const tail = createOutputTail();
    let lastOutputAt = clock.now();
    const pump = (name: OutputStreamName, stream: Readable, sink: CappedFile): Promise<void> => {
      stream.on('data', (chunk: Buffer) => {
        lastOutputAt = clock.now();
        tail.push(chunk);
        try {
          options.onOutput?.(name, chunk);
        } catch {
          // A faulty listener (orch tail) must not break the run or lose the output files.
        }
        if (!sink.write(chunk, () => stream.resume())) stream.pause();
      });
      return finished(stream).then(
        () => undefined,
        () => undefined,
      );
    };
    const pipesEnded = Promise.all([pump('stdout', subprocess.stdout, stdoutFile), pump('stderr', subprocess.stderr, stderrFile)]);

    // The group leader is the child (detached: setsid), so its pgid is its pid. Read in the tick of the
    // spawn: the child cannot have been reaped yet (a zombie still has its /proc entry).
    const known = identityOf(pid);
    const identity: ProcessIdentity = {
      pid,
      pgid: pid,
      start_time: known?.start_time ?? 0,
      boot_id: known?.boot_id ?? bootId(),
      host: known?.host ?? hostname(),
    };

    let stopReason: StopReason | undefined;
    let wakeStop: () => void = () => undefined;
    const stopRequested = new Promise<void>(resolve => (wakeStop = resolve));
    const requestStop = (reason: StopReason): void => {
      if (stopReason !== undefined || leaderExited) return;
      stopReason = reason;
      wakeStop();
    };

    const finish = async (): Promise<{ pipesHeld: boolean; survivors: boolean }> => {
      if (stopReason !== undefined) await terminateGroup(pid, graceMs);
      await exited;
      // What the leader left behind in its group is stopped too: a phase ends with its leader.
      const leftovers = await terminateGroup(pid, graceMs);
      const drained = await settleWithin(pipesEnded, STREAM_DRAIN_GRACE_MS);
      if (!drained) {
        subprocess.stdout.destroy();
        subprocess.stderr.destroy();
      }
      await subprocess;
      await closeFiles();
      return { pipesHeld: !drained, survivors: leftovers === GROUP_STOP.survived || groupIsAlive(pid) };
    };

    try {
      // A stop asked for while the identity is being recorded does not wait for that write.
      await Promise.race([options.onSpawn?.(identity), abortedPromise(options.signal)]);
    } catch (error) {
      // The caller could not record who runs: the command is stopped now rather than left untracked.
      requestStop('cancelled');
      await finish();
      const why = error instanceof Error ? error.message : String(error);
      return { ...notStarted(`stopped: onSpawn failed (${why}), so its process could not be recorded`), onSpawnError: error };
    }

    const watchdog = new AbortController();
    if (options.timeoutMs !== undefined) {
      const timeoutMs = options.timeoutMs;
      void clock.sleep(Math.max(0, startedAt + timeoutMs - clock.now()), watchdog.signal).then(() => {
        if (!watchdog.signal.aborted) requestStop('timed_out');
      });
    }
    if (options.stallTimeoutMs !== undefined) {
      const stallMs = options.stallTimeoutMs;
      void (async () => {
        while (!watchdog.signal.aborted) {
          const idle = clock.now() - lastOutputAt;
          if (idle >= stallMs) return requestStop('stalled');
          await clock.sleep(stallMs - idle, watchdog.signal);
        }
      })();
    }
    const onAbort = (): void => requestStop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    let ending: Awaited<ReturnType<typeof finish>>;
    try {
      await Promise.race([exited, stopRequested]);
      ending = await finish();
    } finally {
      watchdog.abort('ended'); // a reason: abort() alone makes a DOMException with its stack, per command
      options.signal?.removeEventListener('abort', onAbort);
    }
    const exit = await exited;
    const reason: CommandReason = stopReason ?? (exit.code === 0 && exit.signal === null ? COMMAND_REASONS.succeeded : COMMAND_REASONS.failed);
    const notes: string[] = [];
    const why = describeEnding(reason, exit, options);
    if (why !== undefined) notes.push(why);
    if (ending.survivors) notes.push(`process group ${pid} still has members after SIGKILL`);
    const outputError = stdoutFile.error ?? stderrFile.error ?? (ending.pipesHeld ? 'a process outside the command\'s group kept its output open: reading stopped' : undefined);
    return {
      reason,
      exit_code: exit.code,
      signal: exit.signal,
      duration_ms: clock.now() - startedAt,
      ...(notes.length > 0 ? { error: notes.join('; ') } : {}),
      output_tail: tail.text(),
      truncated: { stdout: stdoutFile.truncated, stderr: stderrFile.truncated },
      ...(outputError === undefined ? {} : { output_error: outputError }),
    };
  } catch (error) {
    // Whatever throws once the process exists (a /proc read refused on EMFILE…) must not leave it
    // behind: its group is killed (kill needs no descriptor), our ends are closed, and the error goes on
    // to the caller.
    signalGroup(pid, 'SIGKILL');
    subprocess.stdout.destroy();
    subprocess.stderr.destroy();
    await closeFiles().catch(() => undefined);
    throw error;
  }
}

function spawnCommand(spawnArgv: string[], options: RunCommandOptions) {
  const name = spawnArgv[0] ?? '';
  // The file found on PATH here, so the child makes one execve instead of one per PATH entry; the
  // command still sees the name it was given (resolve-command.ts).
  const file = resolveCommand(name, options.env.PATH);
  return execa(file ?? name, spawnArgv.slice(1), {
    ...(file !== undefined && { argv0: name }),
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    detached: true,
    reject: false,
    buffer: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'buffer',
    stripFinalNewline: false,
    windowsHide: true,
  });
}

function describeEnding(reason: CommandReason, exit: { code: number | null; signal: string | null }, options: RunCommandOptions): string | undefined {
  switch (reason) {
    case COMMAND_REASONS.succeeded:
      return undefined;
    case COMMAND_REASONS.failed:
      return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`;
    case COMMAND_REASONS.timed_out:
      return `timed out after ${seconds(options.timeoutMs)}: its process group was stopped`;
    case COMMAND_REASONS.stalled:
      return `no output for ${seconds(options.stallTimeoutMs)}: its process group was stopped`;
    case COMMAND_REASONS.cancelled:
      return 'cancelled: its process group was stopped';
    default: {
      const never: never = reason;
      return never;
    }
  }
}

function seconds(ms: number | undefined): string {
  return `${((ms ?? 0) / 1000).toFixed(ms !== undefined && ms % 1000 === 0 ? 0 : 1)}s`;
}

function argvBytes(argv: string[]): number {
  return argv.reduce((sum, arg) => sum + Buffer.byteLength(arg) + 1, 0);
}

function directoryProblem(cwd: string): string | undefined {
  try {
    const stat = statSync(cwd);
    return stat.isDirectory() ? undefined : `working directory ${cwd} is not a directory`;
  } catch {
    return `working directory ${cwd} does not exist`;
  }
}

/** True when `promise` settles within `ms` (real time); the timer is cleared either way. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>(resolve => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
