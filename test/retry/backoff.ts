import t from 'tap';
import {
  DEFAULT_NON_RETRYABLE_EXIT_CODES,
  DEFAULT_NON_RETRYABLE_PATTERNS,
  DEFAULT_RATE_LIMIT_PATTERNS,
  DEFAULT_RETRY,
  RATE_LIMIT_FALLBACK_MS,
  resolveRetryPolicy,
  retryDelayMs,
} from '../../src/retry/backoff.js';

const stub = (value: number) => () => value;

t.test('the default tunables are the documented ones', async t => {
  t.matchSnapshot(
    { DEFAULT_RETRY, DEFAULT_NON_RETRYABLE_PATTERNS, DEFAULT_NON_RETRYABLE_EXIT_CODES, DEFAULT_RATE_LIMIT_PATTERNS, RATE_LIMIT_FALLBACK_MS },
    'default retry tunables',
  );
});

t.test('exponential waits base × 2^(attempt−1), capped at max, for attempts 1 to 10', async t => {
  const policy = resolveRetryPolicy(DEFAULT_RETRY);
  const table = [0, 0.5, 1].map(r => ({
    random: r,
    delays: Array.from({ length: 10 }, (_, i) => retryDelayMs(policy, i + 1, stub(r))),
  }));
  t.same(table[1]?.delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000], 'no jitter at r=0.5');
  t.same(table[0]?.delays, [800, 1600, 3200, 6400, 12800, 25600, 48000, 48000, 48000, 48000], '−20% at r=0');
  t.same(table[2]?.delays, [1200, 2400, 4800, 9600, 19200, 38400, 60000, 60000, 60000, 60000], '+20% at r=1, never above max');
  t.matchSnapshot(table, 'exponential delays with a stub random');
});

t.test('immediate never waits and fixed waits the base whatever the attempt', async t => {
  for (const r of [0, 0.5, 1]) {
    t.equal(retryDelayMs({ ...DEFAULT_RETRY, strategy: 'immediate' }, 5, stub(r)), 0);
  }
  const fixed = { ...DEFAULT_RETRY, strategy: 'fixed' as const, base_delay_s: 5, jitter: 0 };
  t.same([1, 2, 9].map(n => retryDelayMs(fixed, n, stub(0.9))), [5000, 5000, 5000]);
  t.equal(retryDelayMs({ ...fixed, base_delay_s: 120 }, 1, stub(0.5)), 60_000, 'max_delay_s caps fixed waits too');
});

t.test('jittered delays stay within ±jitter of the plain delay, never negative, never above max', async t => {
  for (const jitter of [0, 0.2, 0.5, 1]) {
    const policy = { ...DEFAULT_RETRY, jitter };
    for (let attempt = 1; attempt <= 12; attempt++) {
      const plain = Math.min(1000 * 2 ** (attempt - 1), 60_000);
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.99, 1]) {
        const delay = retryDelayMs(policy, attempt, stub(r));
        const low = Math.floor(plain * (1 - jitter));
        const high = Math.min(60_000, Math.ceil(plain * (1 + jitter)));
        t.ok(delay >= low && delay <= high, `jitter ${jitter}, attempt ${attempt}, r=${r}: ${delay} in [${low}, ${high}]`);
      }
    }
  }
  const policy = { ...DEFAULT_RETRY, jitter: 1 };
  t.equal(retryDelayMs(policy, 1, stub(0)), 0, 'full downward jitter reaches zero, not below');
  t.equal(retryDelayMs(DEFAULT_RETRY, 1100, stub(0.5)), 60_000, 'a huge attempt number is still capped');
  t.equal(retryDelayMs(DEFAULT_RETRY, 0, stub(0.5)), 1000, 'attempt numbers below 1 count as 1');
  t.equal(retryDelayMs(DEFAULT_RETRY, 1, stub(7)), 1200, 'a random value out of range is clamped');
});

t.test('layers merge field by field, later wins, and rule lists are unions', async t => {
  const policy = resolveRetryPolicy(
    DEFAULT_RETRY,
    { max_attempts: 5, non_retryable: { patterns: ['quota gone'] } },
    undefined,
    { strategy: 'fixed', base_delay_s: 2, rate_limit: { exit_codes: [75], patterns: ['slow down'] } },
    { max_attempts: 2, non_retryable: { patterns: ['quota gone', 'bad config'], exit_codes: [3] } },
    { timeout_s: undefined, stall_timeout_s: 30 },
  );
  t.equal(policy.max_attempts, 2);
  t.equal(policy.strategy, 'fixed');
  t.equal(policy.base_delay_s, 2);
  t.equal(policy.max_delay_s, 60);
  t.equal(policy.timeout_s, 1800, 'an undefined field leaves the lower value');
  t.equal(policy.stall_timeout_s, 30);
  t.same(policy.non_retryable.patterns, [...DEFAULT_NON_RETRYABLE_PATTERNS, 'quota gone', 'bad config']);
  t.same(policy.non_retryable.exit_codes, [126, 127, 3]);
  t.same(policy.rate_limit.exit_codes, [75]);
  t.same(policy.rate_limit.patterns, [...DEFAULT_RATE_LIMIT_PATTERNS, 'slow down']);
  t.same(resolveRetryPolicy(), DEFAULT_RETRY, 'no layers: the defaults');
});
