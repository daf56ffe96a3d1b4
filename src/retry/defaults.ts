// The built-in retry tunables and failure rules (PRODUCT.md §5). Every level of config (config.retry,
// workflow.retry, phase.retry, spec.retry) overrides these field by field: see resolveRetryPolicy.
import type { RetryPolicy } from '../generated/types.js';

export type RetryStrategy = NonNullable<RetryPolicy['strategy']>;

/** Failure rules after resolution: both lists always present (possibly empty). */
export interface ResolvedFailureRules {
  readonly exit_codes: readonly number[];
  readonly patterns: readonly string[];
}

/** A retry policy with every field decided; what the machine and the runner act on. */
export interface ResolvedRetryPolicy {
  readonly strategy: RetryStrategy;
  readonly max_attempts: number;
  readonly base_delay_s: number;
  readonly max_delay_s: number;
  readonly jitter: number;
  readonly timeout_s: number;
  /** No output for this long: the attempt is stalled. Off unless configured. */
  readonly stall_timeout_s: number | undefined;
  readonly non_retryable: ResolvedFailureRules;
  readonly rate_limit: ResolvedFailureRules;
}

/**
 * Output (case-insensitive regular expressions) that marks a failure as not worth retrying: the same
 * call would fail the same way. Matched against the failure's error text by classifyFailure.
 */
export const DEFAULT_NON_RETRYABLE_PATTERNS = [
  'authentication[ _-]?(error|failed|failure|required)',
  'unauthori[sz]ed',
  'invalid[ _-]?(api[ _-]?key|x-api-key|token|credentials)',
  'permission[ _-]?denied',
  'forbidden',
  'not[ _-]?found',
  'bad[ _-]?request',
  'invalid[ _-]?request[ _-]?error',
  'validation[ _-]?(error|failed)',
] as const;

/** Exit codes that no retry can fix: 126 (found but not executable) and 127 (command not found). */
export const DEFAULT_NON_RETRYABLE_EXIT_CODES = [126, 127] as const;

/**
 * Output that marks a rate limit: the task is parked until the reset time (found by the runner in the
 * output) without spending an attempt. Checked before the non-retryable rules.
 */
export const DEFAULT_RATE_LIMIT_PATTERNS = [
  '\\b429\\b',
  'rate[ _-]?limit',
  'usage[ _-]?limit',
  'too[ _-]?many[ _-]?requests',
  'quota[ _-]?exceeded',
  'resource[ _-]?exhausted',
] as const;

/** How long a rate-limited task is parked when the output names no reset time. */
export const RATE_LIMIT_FALLBACK_MS = 60_000;

/** The built-in retry policy: the lowest layer of every resolved policy. */
export const DEFAULT_RETRY = {
  strategy: 'exponential',
  max_attempts: 3,
  base_delay_s: 1,
  max_delay_s: 60,
  jitter: 0.2,
  timeout_s: 1800,
  stall_timeout_s: undefined,
  non_retryable: { exit_codes: DEFAULT_NON_RETRYABLE_EXIT_CODES, patterns: DEFAULT_NON_RETRYABLE_PATTERNS },
  rate_limit: { exit_codes: [], patterns: DEFAULT_RATE_LIMIT_PATTERNS },
} as const satisfies ResolvedRetryPolicy;
