// Colours of task states in the read commands. chalk is already loaded by output.ts, and its level is
// set there (0 under NO_COLOR, --no-color or when stdout is not a terminal), so nothing here decides.
import chalk from 'chalk';
import type { TaskState } from '../../generated/types.js';

const STATE_COLOURS = {
  NEW: chalk.white,
  PLANNING: chalk.cyan,
  PLAN_REVIEW: chalk.cyan,
  PLAN_APPROVED: chalk.cyan,
  PLAN_REJECTED: chalk.yellow,
  IMPLEMENTING: chalk.cyan,
  CODE_REVIEW: chalk.cyan,
  QUALITY_GATE: chalk.cyan,
  AWAITING_HUMAN: chalk.magenta,
  DONE: chalk.green,
  FAILED: chalk.red,
  CANCELLED: chalk.gray,
} as const satisfies Record<TaskState, (text: string) => string>;

/** `text` (usually the state's name) in the colour of `state`. */
export function paintState(state: TaskState, text: string = state): string {
  return STATE_COLOURS[state](text);
}

export function heading(text: string): string {
  return chalk.bold(text);
}

export function dim(text: string): string {
  return chalk.dim(text);
}

export function warn(text: string): string {
  return chalk.yellow(text);
}

export function bad(text: string): string {
  return chalk.red(text);
}

export function good(text: string): string {
  return chalk.green(text);
}
