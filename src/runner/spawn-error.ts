// A command that could not be started is an outcome, never a throw: this turns the spawn error into
// one line that says which binary and why, without echoing a huge argv back.
import { errnoCode } from '../errors.js';

/** The errno code of a failed spawn, looking through execa's wrapping (`cause`). */
export function spawnErrorCode(error: unknown): string | undefined {
  return errnoCode((error as { cause?: unknown } | null)?.cause) ?? errnoCode(error);
}

/** One line: what could not be run and why. `argBytes` is the size of the whole argv (for E2BIG). */
export function describeSpawnError(file: string, code: string | undefined, argBytes: number, fallback: string): string {
  const what = `cannot run ${JSON.stringify(file.length > 200 ? `${file.slice(0, 200)}…` : file)}`;
  switch (code) {
    case 'ENOENT':
      return file.includes('/')
        ? `${what}: no such file`
        : `${what}: not found on PATH`;
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
