// How a failed spawn is caught, and what is said when a command cannot be started: an outcome, never a
// throw, described in one line that says which binary and why, without echoing a huge argv back.
import type { ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { errnoCode } from '../errors.js';

/** The errno code of a failed spawn, looking through execa's wrapping (`cause`). */
export function spawnErrorCode(error: unknown): string | undefined {
  return errnoCode((error as { cause?: unknown } | null)?.cause) ?? errnoCode(error);
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
