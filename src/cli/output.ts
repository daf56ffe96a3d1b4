// All terminal output of orch: colour decisions, error rendering, JSON, and the exit code of a
// command's action. Only cli/ prints.
import { isOrchError } from '../errors.js';
import { bad, dim, loadColour, unloadColour } from './format/colour.js';

export interface GlobalOptions {
  root?: string;
  json?: boolean;
  verbose?: boolean;
  color?: boolean;
}

/**
 * Colour only on a terminal, and never with NO_COLOR set (https://no-color.org) or --no-color.
 * chalk is loaded only when colour is on.
 */
export async function setupColour(options: GlobalOptions, stream: NodeJS.WriteStream = process.stdout): Promise<void> {
  const noColour = (process.env.NO_COLOR ?? '') !== '' || options.color === false || !stream.isTTY;
  if (noColour) unloadColour();
  else await loadColour();
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** One or two lines: what went wrong (and where), then what to do. The cause chain only with --verbose. */
export function renderError(error: unknown, options: GlobalOptions): string {
  if (options.json === true) {
    const body = isOrchError(error)
      ? { error: { code: error.code, message: error.message, details: error.details, hint: error.hint } }
      : { error: { code: 'ORCH_INTERNAL', message: (error as Error)?.message ?? String(error) } };
    return JSON.stringify(body, null, 2);
  }
  const lines: string[] = [];
  if (isOrchError(error)) {
    lines.push(`${bad('error')}: ${error.message}`);
    if (error.hint !== undefined) lines.push(`${dim('hint')}: ${error.hint}`);
  } else {
    lines.push(`${bad('error')}: ${(error as Error)?.message ?? String(error)}`);
    if (options.verbose !== true) lines.push(`${dim('hint')}: this is a bug in orch; run again with --verbose for the stack`);
  }
  if (options.verbose === true) {
    for (let cause: unknown = error; cause !== undefined && cause !== null; cause = (cause as { cause?: unknown }).cause) {
      lines.push(dim((cause as Error).stack ?? String(cause)));
    }
  }
  return lines.join('\n');
}

export function exitCodeOf(error: unknown): number {
  return isOrchError(error) ? error.exitCode : 1;
}

/** Runs a command's action: colour set up first, its result as the exit code, an error as text on stderr. */
export async function runAction<O extends GlobalOptions>(options: O, action: (options: O) => Promise<number>): Promise<void> {
  await setupColour(options);
  try {
    process.exitCode = await action(options);
  } catch (error) {
    process.stderr.write(`${renderError(error, options)}\n`);
    process.exitCode = exitCodeOf(error);
  }
}
