// Pure retry math: merge the policy layers, and compute the wait before the next attempt. Randomness
// comes in as a function so the result is reproducible in tests and replays.
import type { RetryPolicy } from '../generated/types.js';
import { DEFAULT_RETRY, type ResolvedFailureRules, type ResolvedRetryPolicy } from './defaults.js';

export {
  DEFAULT_RETRY,
  DEFAULT_NON_RETRYABLE_EXIT_CODES,
  DEFAULT_NON_RETRYABLE_PATTERNS,
  DEFAULT_RATE_LIMIT_PATTERNS,
  RATE_LIMIT_FALLBACK_MS,
} from './defaults.js';
export type { ResolvedFailureRules, ResolvedRetryPolicy, RetryStrategy } from './defaults.js';

type LayerRules = { readonly exit_codes?: readonly number[] | undefined; readonly patterns?: readonly string[] | undefined };

/**
 * One layer of retry settings: a RetryPolicy from a file, a resolved policy, or an ad-hoc override such
 * as `{ timeout_s: spec.timeout_s }`. A field that is undefined leaves the lower layers' value.
 */
export type RetryLayer = {
  readonly [K in keyof RetryPolicy]?: K extends 'non_retryable' | 'rate_limit'
    ? LayerRules | undefined
    : RetryPolicy[K] | undefined;
};

/**
 * Merges layers over DEFAULT_RETRY, field by field, later layers winning. The two rule lists are
 * merged instead (union, first occurrence kept): a layer adds rules, it never drops the defaults.
 */
export function resolveRetryPolicy(...layers: (RetryLayer | undefined)[]): ResolvedRetryPolicy {
  let policy: ResolvedRetryPolicy = DEFAULT_RETRY;
  for (const layer of layers) {
    if (layer === undefined) continue;
    policy = {
      strategy: layer.strategy ?? policy.strategy,
      max_attempts: layer.max_attempts ?? policy.max_attempts,
      base_delay_s: layer.base_delay_s ?? policy.base_delay_s,
      max_delay_s: layer.max_delay_s ?? policy.max_delay_s,
      jitter: layer.jitter ?? policy.jitter,
      timeout_s: layer.timeout_s ?? policy.timeout_s,
      stall_timeout_s: layer.stall_timeout_s ?? policy.stall_timeout_s,
      non_retryable: mergeRules(policy.non_retryable, layer.non_retryable),
      rate_limit: mergeRules(policy.rate_limit, layer.rate_limit),
    };
  }
  return policy;
}

function mergeRules(base: ResolvedFailureRules, extra: LayerRules | undefined): ResolvedFailureRules {
  if (extra === undefined) return base;
  return {
    exit_codes: [...new Set([...base.exit_codes, ...(extra.exit_codes ?? [])])],
    patterns: [...new Set([...base.patterns, ...(extra.patterns ?? [])])],
  };
}

/**
 * Milliseconds to wait before the attempt after `attempt` (1-based: the number of the attempt that just
 * failed). immediate: 0; fixed: base; exponential: base × 2^(attempt−1). Then jitter moves the wait by
 * up to ±jitter of itself (random() in [0, 1): 0 is the shortest, 0.5 none). The result is never
 * negative and never above max_delay_s, whatever the strategy.
 */
export function retryDelayMs(
  policy: Pick<ResolvedRetryPolicy, 'strategy' | 'base_delay_s' | 'max_delay_s' | 'jitter'>,
  attempt: number,
  random: () => number,
): number {
  const capMs = Math.max(0, policy.max_delay_s) * 1000;
  const baseMs = Math.max(0, policy.base_delay_s) * 1000;
  let delay: number;
  switch (policy.strategy) {
    case 'immediate':
      return 0;
    case 'fixed':
      delay = baseMs;
      break;
    case 'exponential':
      // 2 ** 1100 is Infinity, which the cap turns back into a number.
      delay = baseMs * 2 ** (Math.max(1, Math.floor(attempt)) - 1);
      break;
    default: {
      const never: never = policy.strategy;
      throw new Error(`unknown retry strategy ${String(never)}`);
    }
  }
  delay = Math.min(delay, capMs);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const r = Math.min(1, Math.max(0, random()));
  delay = delay * (1 + jitter * (2 * r - 1));
  return Math.round(Math.min(capMs, Math.max(0, delay)));
}
