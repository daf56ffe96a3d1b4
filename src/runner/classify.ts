// Whether a failed attempt is worth retrying, whether it hit a rate limit (and until when), and a
// signature of the failure for the no-progress breaker (the same signature N times in a row).
// The rules are the configured ones; where a list is not given, the built-in defaults of
// src/retry/defaults.ts apply.
import {
  DEFAULT_NON_RETRYABLE_EXIT_CODES,
  DEFAULT_NON_RETRYABLE_PATTERNS,
  DEFAULT_RATE_LIMIT_PATTERNS,
  RATE_LIMIT_FALLBACK_MS,
} from '../retry/defaults.js';
import { COMMAND_REASONS, type CommandOutcome } from './outcome.js';
import { findResetTime } from './reset-time.js';

/** A reset time further away than this is taken as this (a garbled number must not park for years). */
export const MAX_RATE_LIMIT_PARK_MS = 7 * 24 * 3_600_000;
/**
 * How much of the end of the output the rules are matched against: a command's dying words are at
 * the end, and an agent that earlier printed code about rate limits must not read as rate-limited.
 */
export const CLASSIFY_WINDOW_CHARS = 8 * 1024;
/** How long a signature's error line may be. */
export const SIGNATURE_LINE_CHARS = 200;

/** Spawn errors that say the orchestrator's machine ran out of something, not that the command is wrong. */
export const RESOURCE_SPAWN_ERRORS = ['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM'] as const;

export interface FailureRuleSet {
  exit_codes?: readonly number[] | undefined;
  patterns?: readonly string[] | undefined;
}

export interface FailureRulesConfig {
  non_retryable?: FailureRuleSet | undefined;
  rate_limit?: FailureRuleSet | undefined;
}

export interface FailureClass {
  retryable: boolean;
  /** Set when the failure is a rate limit: park the task until then, spending no attempt. */
  rate_limited_until?: number;
  /** Exit code (or signal, or reason) and the first meaningful error line, normalised. */
  signature: string;
  /** Which rule decided, for the run log: `exit code 127`, `/permission denied/`, `spawn ENOENT`. */
  matched?: string;
}

export function classifyFailure(outcome: CommandOutcome, rules: FailureRulesConfig, now: number): FailureClass {
  const signature = failureSignature(outcome);
  const end = outcome.output_tail.slice(-CLASSIFY_WINDOW_CHARS);
  const text = outcome.error === undefined ? end : `${end}\n${outcome.error}`;
  switch (outcome.reason) {
    case COMMAND_REASONS.succeeded:
      return { retryable: false, signature };
    case COMMAND_REASONS.cancelled:
      // Someone decided to stop it: running it again is not this layer's call.
      return { retryable: false, signature, matched: 'cancelled' };
    case COMMAND_REASONS.failed:
    case COMMAND_REASONS.timed_out:
    case COMMAND_REASONS.stalled:
      break;
    default: {
      const never: never = outcome.reason;
      return never;
    }
  }
  if (outcome.spawn_error !== undefined) {
    // Out of file descriptors, processes or memory: the machine's state, not the command's, so it may
    // start on the next attempt (after the backoff). It spends an attempt all the same: a limit that
    // never lifts (a ulimit) must end in FAILED, not in a loop. A missing or non-executable binary
    // will never start: not retried.
    const resources = (RESOURCE_SPAWN_ERRORS as readonly string[]).includes(outcome.spawn_error);
    return { retryable: resources, signature, matched: `spawn ${outcome.spawn_error}` };
  }

  const rateLimit = rules.rate_limit ?? {};
  const rateCode = outcome.exit_code !== null && (rateLimit.exit_codes ?? []).includes(outcome.exit_code);
  const ratePattern = rateCode ? undefined : firstMatch(rateLimit.patterns ?? DEFAULT_RATE_LIMIT_PATTERNS, text);
  if (rateCode || ratePattern !== undefined) {
    const reset = findResetTime(text, now);
    const until = reset === undefined ? now + RATE_LIMIT_FALLBACK_MS : Math.min(reset, now + MAX_RATE_LIMIT_PARK_MS);
    return { retryable: true, rate_limited_until: until, signature, matched: ratePattern ?? `exit code ${outcome.exit_code}` };
  }

  // A timeout or a stall is the clock's verdict, not the command's: always worth another go.
  if (outcome.reason !== COMMAND_REASONS.failed) return { retryable: true, signature };
  const nonRetryable = rules.non_retryable ?? {};
  if (outcome.exit_code !== null && (nonRetryable.exit_codes ?? DEFAULT_NON_RETRYABLE_EXIT_CODES).includes(outcome.exit_code)) {
    return { retryable: false, signature, matched: `exit code ${outcome.exit_code}` };
  }
  const pattern = firstMatch(nonRetryable.patterns ?? DEFAULT_NON_RETRYABLE_PATTERNS, text);
  if (pattern !== undefined) return { retryable: false, signature, matched: pattern };
  return { retryable: true, signature };
}

/** The first of `patterns` (case-insensitive regular expressions) found in `text`, as `/source/`. */
function firstMatch(patterns: readonly string[], text: string): string | undefined {
  for (const source of patterns) if (compilePattern(source).test(text)) return `/${source}/`;
  return undefined;
}

const compiled = new Map<string, RegExp>();
/**
 * A rule pattern as a case-insensitive RegExp. Config validation refuses invalid ones; one that gets
 * here anyway is matched as literal text rather than crash an attempt's bookkeeping.
 */
export function compilePattern(source: string): RegExp {
  let re = compiled.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source, 'i');
    } catch {
      re = new RegExp(source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    }
    compiled.set(source, re);
  }
  return re;
}

/** The problems of a rule set's patterns (invalid regular expressions), for config validation. */
export function patternProblems(patterns: readonly string[]): string[] {
  const problems: string[] = [];
  for (const source of patterns) {
    try {
      new RegExp(source, 'i');
    } catch (error) {
      problems.push(`${JSON.stringify(source)}: ${(error as Error).message}`);
    }
  }
  return problems;
}

const ERROR_LINE = /\b(error|err!|fail(ed|ure)?|fatal|exception|panic|denied|invalid|cannot|can't|unable|refused|timed? ?out|traceback)\b/i;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g;

/**
 * `exit 1: error: cannot find module '#'`: how it ended and the first line of the output tail that
 * reads like an error (else the last non-empty line), with colours stripped and numbers, times and
 * long hex ids folded, so that the same failure gives the same signature on every attempt.
 */
export function failureSignature(outcome: CommandOutcome): string {
  const head =
    outcome.reason !== COMMAND_REASONS.failed
      ? outcome.reason
      : outcome.spawn_error !== undefined
        ? `spawn ${outcome.spawn_error}`
        : outcome.signal !== null
          ? `signal ${outcome.signal}`
          : `exit ${outcome.exit_code ?? '?'}`;
  const lines = outcome.output_tail.replace(ANSI, '').split(/\r?\n/).map(line => line.trim()).filter(line => line !== '');
  const line = lines.find(candidate => ERROR_LINE.test(candidate)) ?? lines.at(-1) ?? outcome.error ?? '';
  const normalised = line
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b[0-9a-f]{8,}\b/gi, '<id>')
    .replace(/\d+(\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .slice(0, SIGNATURE_LINE_CHARS);
  return normalised === '' ? head : `${head}: ${normalised}`;
}
