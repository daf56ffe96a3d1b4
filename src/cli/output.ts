// All terminal output of orch: colour decisions, error rendering, JSON. Only cli/ prints.
import chalk from 'chalk';
import { isOrchError } from '../errors.js';

export interface GlobalOptions {
  root?: string;
  json?: boolean;
  verbose?: boolean;
  color?: boolean;
}

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org) or --no-color. */
export function setupColour(options: GlobalOptions, stream: NodeJS.WriteStream = process.stdout): void {
  const noColour = (process.env.NO_COLOR ?? '') !== '' || options.color === false || !stream.isTTY;
  if (noColour) chalk.level = 0;
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
    lines.push(`${chalk.red('error')}: ${error.message}`);
    if (error.hint !== undefined) lines.push(`${chalk.dim('hint')}: ${error.hint}`);
  } else {
    lines.push(`${chalk.red('error')}: ${(error as Error)?.message ?? String(error)}`);
    if (options.verbose !== true) lines.push(`${chalk.dim('hint')}: this is a bug in orch; run again with --verbose for the stack`);
  }
  if (options.verbose === true) {
    for (let cause: unknown = error; cause !== undefined && cause !== null; cause = (cause as { cause?: unknown }).cause) {
      lines.push(chalk.dim((cause as Error).stack ?? String(cause)));
    }
  }
  return lines.join('\n');
}

export function exitCodeOf(error: unknown): number {
  return isOrchError(error) ? error.exitCode : 1;
}
