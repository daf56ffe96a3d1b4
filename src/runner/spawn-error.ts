// How a command is spawned (through the spawn gate) and what is said when it cannot be: a command
// that could not be started is an outcome, never a throw, described in one line that says which
// binary and why, without echoing a huge argv back.
import type { ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { errnoCode } from '../errors.js';

/**
 * The `$0` of the spawn gate's shell. The shell prefixes its own error messages with it, so a failed
 * `exec` is told apart from a command that ran and printed something similar.
 */
export const GATE_NAME = 'orch-spawn-gate';
/**
 * Run as `sh -c GATE_SCRIPT GATE_NAME ARGV…`: waits for one line on fd 3, then execs ARGV with fd 3
 * closed (no command ever holds it). At EOF (the orchestrator died) `read` fails and `&&` runs nothing.
 */
export const GATE_SCRIPT = 'read -r go <&3 && exec 3<&- && exec "$@"';
/** How much of stderr is enough to recognise the gate's exec failure message. */
export const GATE_STDERR_BYTES = 1024;

/**
 * The argv actually spawned, with a pipe on fd 3: the gate shell, then the command. With `shell: true`
 * the command is `/bin/sh -c LINE` (argv joined by spaces, as Node's `shell` option does).
 */
export function gatedArgv(argv: readonly string[], shell: boolean): string[] {
  const command = shell ? ['/bin/sh', '-c', argv.join(' ')] : argv;
  return ['/bin/sh', '-c', GATE_SCRIPT, GATE_NAME, ...command];
}

/** The errno code of a failed spawn, looking through execa's wrapping (`cause`). */
export function spawnErrorCode(error: unknown): string | undefined {
  return errnoCode((error as { cause?: unknown } | null)?.cause) ?? errnoCode(error);
}

/** What the shells' exec failure messages say, by errno (dash, bash, busybox ash word them alike). */
const EXEC_FAILURES: readonly [RegExp, string][] = [
  [/: (not found|No such file or directory)$/, 'ENOENT'],
  [/: (Permission denied|Is a directory)$/, 'EACCES'],
  [/: Text file busy$/, 'ETXTBSY'],
  [/: Exec format error$/, 'ENOEXEC'],
  [/: Argument list too long$/, 'E2BIG'],
];

/**
 * The errno code of an `exec` that the spawn gate's shell could not do, or undefined when the
 * command did run. A failed exec means the shell exited 127 (not found) or 126 (found, not
 * runnable) having printed nothing but one line of its own, prefixed with GATE_NAME; a command
 * that ran cannot produce that (it would have to print our gate's name as its only stderr line).
 */
export function gateExecErrorCode(exitCode: number | null, stdoutBytes: number, stderrHead: string): string | undefined {
  if ((exitCode !== 127 && exitCode !== 126) || stdoutBytes !== 0) return undefined;
  const line = stderrHead.endsWith('\n') ? stderrHead.slice(0, -1) : stderrHead;
  if (!line.startsWith(`${GATE_NAME}:`) || line.includes('\n')) return undefined;
  for (const [pattern, code] of EXEC_FAILURES) if (pattern.test(line)) return code;
  return exitCode === 127 ? 'ENOENT' : 'EACCES';
}

/** One line: what could not be run and why. `argBytes` is the size of the whole argv (for E2BIG). */
export function describeSpawnError(file: string, code: string | undefined, argBytes: number, fallback: string, cwd?: string): string {
  const what = `cannot run ${JSON.stringify(file.length > 200 ? `${file.slice(0, 200)}…` : file)}`;
  switch (code) {
    case 'ENOENT': {
      if (!file.includes('/')) return `${what}: not found on PATH`;
      // The script is there, but the interpreter its #! line names is not: exec says ENOENT too.
      const interpreter = shebangOf(cwd === undefined ? file : resolve(cwd, file));
      return interpreter === undefined ? `${what}: no such file` : `${what}: its interpreter ${JSON.stringify(interpreter)} (its #! line) was not found`;
    }
    case 'EACCES':
      return `${what}: permission denied (is it an executable file?)`;
    case 'E2BIG':
      return `${what}: argument list too long (${argBytes} bytes of arguments and environment); pass large text in a file`;
    case 'ENOEXEC':
      return `${what}: not an executable format (a script needs a #! line)`;
    default:
      return `${what}: ${code ?? fallback}`;
  }
}

export interface SpawnWatch {
  /** Stops watching: call it as soon as the (synchronous) spawn call has returned or thrown. */
  stop(): void;
  /** The 'error' that the child spawned meanwhile emitted (a tick after a failed spawn), if any. */
  error(): Promise<unknown>;
}

/**
 * Catches the child that execa loses. When Node's spawn hits EMFILE or ENFILE it returns a
 * ChildProcess without stdio and emits 'error' on it a tick later; execa 9 then throws a TypeError
 * ("subprocess.stdio is not iterable") and that child, with its 'error' unheard, would end the
 * orchestrator. Node publishes every ChildProcess it spawns on the 'child_process' diagnostics
 * channel, before that early return: the one spawned while this watch is on gets a listener.
 */
export function watchSpawn(): SpawnWatch {
  let child: ChildProcess | undefined;
  let failure: unknown;
  const adopt = (message: unknown): void => {
    if (child !== undefined) return;
    child = (message as { process?: ChildProcess }).process;
    child?.on('error', error => (failure ??= error));
  };
  subscribe('child_process', adopt);
  return {
    stop: () => unsubscribe('child_process', adopt),
    error: async () => {
      if (child === undefined) return undefined;
      await new Promise(resolve => setImmediate(resolve)); // the error is emitted on process.nextTick
      return failure;
    },
  };
}

/** The interpreter named by the #! line of the file at `path`, if it is a readable file that has one. */
function shebangOf(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(256);
    const read = readSync(fd, head, 0, head.length, 0);
    const line = head.subarray(0, read).toString('utf8').split('\n')[0] ?? '';
    return line.startsWith('#!') ? line.slice(2).trim().split(/\s+/)[0] || undefined : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
