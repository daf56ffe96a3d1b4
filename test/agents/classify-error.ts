import t from 'tap';
import { classifyAgentError, usageErrorOf } from '../../src/agents/classify-error.js';

const now = Date.parse('2026-12-02T10:00:00Z');

t.test("a client's structured error decides: usage waits for a person, auth and bad requests fail, 429 parks, 5xx and network retry", async t => {
  t.match(classifyAgentError({ kind: 'usage', message: 'x' }, now), { retryable: false, config_problem: true });
  t.match(classifyAgentError({ kind: 'auth', message: 'x', status: 401 }, now), { retryable: false, config_problem: false, matched: 'client error auth 401' });
  t.match(classifyAgentError({ kind: 'request', message: 'x', status: 400 }, now), { retryable: false });
  t.match(classifyAgentError({ kind: 'server', message: 'x', status: 500 }, now), { retryable: true, rate_limited_until: undefined });
  t.match(classifyAgentError({ kind: 'network', message: 'x' }, now), { retryable: true });
});

t.test("a rate limit parks until the client's reset, else retry-after, else a minute; never years", async t => {
  t.equal(classifyAgentError({ kind: 'rate_limit', message: 'x', retry_after_s: 7 }, now).rate_limited_until, now + 7000);
  t.equal(classifyAgentError({ kind: 'rate_limit', message: 'x', retry_after_s: 7, reset_at_ms: now + 90_000 }, now).rate_limited_until, now + 90_000);
  t.equal(classifyAgentError({ kind: 'rate_limit', message: 'x' }, now).rate_limited_until, now + 60_000);
  t.equal(classifyAgentError({ kind: 'rate_limit', message: 'x', reset_at_ms: now + 1e12 }, now).rate_limited_until, now + 7 * 24 * 3_600_000);
  t.equal(classifyAgentError({ kind: 'rate_limit', message: 'x', reset_at_ms: now - 5000 }, now).rate_limited_until, now, 'a reset in the past: at once');
});

t.test('exit 2 with an argument parser\'s words is a usage error, with its error line', async t => {
  const stderr = "error: unexpected argument '--full-auto' found\n\nUsage: codex exec [OPTIONS] [PROMPT]\n\nFor more information, try '--help'.\n";
  t.same(usageErrorOf(2, stderr), { kind: 'usage', message: "error: unexpected argument '--full-auto' found" });
  t.equal(usageErrorOf(1, stderr), undefined, 'only exit 2');
  t.equal(usageErrorOf(2, 'Error: ECONNREFUSED'), undefined, 'only a parser\'s words');
});
