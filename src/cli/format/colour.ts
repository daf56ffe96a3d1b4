// Colours of the CLI's output. chalk is loaded only when colour is on (a terminal, no NO_COLOR, no
// --no-color): decided once per run by setupColour (output.ts), which calls loadColour. Until then,
// and whenever colour is off, every helper returns its text unchanged, so a piped or NO_COLOR run
// never pays for chalk. Commands colour through these helpers only, never through chalk directly.
import type { ChalkInstance } from 'chalk';
import type { TaskState } from '../../generated/types.js';

let chalk: ChalkInstance | undefined;

/** Turns colour on: loads chalk (which still applies its own checks, such as TERM=dumb). */
export async function loadColour(): Promise<void> {
  chalk = (await import('chalk')).default;
}

/** Turns colour off again (for tests, and for a run that decides against it). */
export function unloadColour(): void {
  chalk = undefined;
}

type Style = 'white' | 'cyan' | 'yellow' | 'magenta' | 'green' | 'red' | 'gray' | 'blue' | 'bold' | 'dim';

function paint(style: Style, text: string): string {
  return chalk === undefined ? text : chalk[style](text);
}

const STATE_STYLES = {
  NEW: 'white',
  PLANNING: 'cyan',
  PLAN_REVIEW: 'cyan',
  PLAN_APPROVED: 'cyan',
  PLAN_REJECTED: 'yellow',
  IMPLEMENTING: 'cyan',
  CODE_REVIEW: 'cyan',
  QUALITY_GATE: 'cyan',
  AWAITING_HUMAN: 'magenta',
  DONE: 'green',
  FAILED: 'red',
  CANCELLED: 'gray',
} as const satisfies Record<TaskState, Style>;

/** `text` (usually the state's name) in the colour of `state`. */
export function paintState(state: TaskState, text: string = state): string {
  return paint(STATE_STYLES[state], text);
}

export function heading(text: string): string {
  return paint('bold', text);
}

/** Bold inside a line (a task id, a command to type). */
export function bold(text: string): string {
  return paint('bold', text);
}

export function dim(text: string): string {
  return paint('dim', text);
}

export function info(text: string): string {
  return paint('blue', text);
}

export function warn(text: string): string {
  return paint('yellow', text);
}

export function bad(text: string): string {
  return paint('red', text);
}

export function good(text: string): string {
  return paint('green', text);
}
