// One error class for everything orch refuses or fails at. Callers branch on `code`, never on the
// message; only the CLI turns an OrchError into text and an exit code.

const brand = Symbol.for('orch.error');

export const EXIT = {
  ok: 0,
  workFailed: 1,
  usage: 2,
  locked: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every code orch raises, with the exit code the CLI gives it. */
export const ERROR_CODES = {
  ORCH_USAGE: EXIT.usage,
  ORCH_CONFIG_INVALID: EXIT.usage,
  ORCH_NOT_FOUND: EXIT.usage,
  ORCH_INVALID_JSON: EXIT.usage,
  ORCH_INVALID_UTF8: EXIT.usage,
  ORCH_SCHEMA_INVALID: EXIT.usage,
  ORCH_UNSAFE_ID: EXIT.usage,
  ORCH_VERSION_NEWER: EXIT.usage,
  ORCH_VERSION_UNKNOWN: EXIT.usage,
  ORCH_NOT_REGULAR_FILE: EXIT.usage,
  ORCH_FILE_TOO_LARGE: EXIT.usage,
  ORCH_WRITE_FAILED: EXIT.workFailed,
  ORCH_LOCK_TIMEOUT: EXIT.locked,
  ORCH_LOCK_COMPROMISED: EXIT.workFailed,
  ORCH_REV_CONFLICT: EXIT.workFailed,
  ORCH_HAND_EDITED: EXIT.workFailed,
  ORCH_GIT_FAILED: EXIT.workFailed,
  ORCH_WORKTREE_SETUP: EXIT.workFailed,
  ORCH_EPOCH_FENCED: EXIT.workFailed,
  ORCH_SESSION_HELD: EXIT.locked,
  ORCH_ILLEGAL_TRANSITION: EXIT.usage,
  ORCH_DEPENDENCY_CYCLE: EXIT.usage,
  ORCH_INVALID_YAML: EXIT.usage,
  ORCH_SPEC_EXISTS: EXIT.usage,
  ORCH_OLD_LAYOUT: EXIT.usage,
  ORCH_INTERNAL: EXIT.workFailed,
} as const;
export type OrchErrorCode = keyof typeof ERROR_CODES;

export interface OrchErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** What the user can do about it: the CLI prints it on the line after the message. */
  hint?: string | undefined;
}

export class OrchError extends Error {
  readonly code: OrchErrorCode;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;
  readonly [brand] = true;

  constructor(code: OrchErrorCode, message: string, options: OrchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrchError';
    this.code = code;
    this.exitCode = ERROR_CODES[code];
    this.details = options.details ?? {};
    this.hint = options.hint;
  }
}

/** True for an OrchError from any copy of this module. */
export function isOrchError(value: unknown): value is OrchError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
}

/** True when `value` is an OrchError with one of the given codes. */
export function hasCode(value: unknown, ...codes: OrchErrorCode[]): value is OrchError {
  return isOrchError(value) && codes.includes(value.code);
}

/** The errno code of a Node.js system error (ENOENT, ENOSPC…), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
