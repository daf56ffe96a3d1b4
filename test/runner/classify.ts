import t from 'tap';
import { classifyFailure, compilePattern, failureSignature, MAX_RATE_LIMIT_PARK_MS, patternProblems } from '../../src/runner/classify.js';
import type { CommandOutcome } from '../../src/runner/outcome.js';
import { findResetTime, parseDuration } from '../../src/runner/reset-time.js';
import { RATE_LIMIT_FALLBACK_MS } from '../../src/retry/defaults.js';

const NOW = Date.parse('2025-12-10T10:00:00Z');

function failed(output: string, extra: Partial<CommandOutcome> = {}): CommandOutcome {
  return {
    reason: 'failed',
    exit_code: 1,
    signal: null,
    duration_ms: 10,
    error: `exited with code ${extra.exit_code ?? 1}`,
    output_tail: output,
    truncated: { stdout: false, stderr: false },
    ...extra,
  };
}

t.test('failures that no retry can fix are non-retryable', async t => {
  const table: [string, string][] = [
    ['Error: authentication failed: check ANTHROPIC_API_KEY', 'auth'],
    ['401 Unauthorized', 'unauthorized'],
    ['Invalid API key · Please run /login', 'api key'],
    ['fatal: permission denied (publickey)', 'permission'],
    ['HTTP 400 Bad Request: messages.0.content is required', 'bad request'],
    ['{"type":"invalid_request_error","message":"prompt is too long"}', 'invalid request'],
    ['ValidationError: validation failed for field "model"', 'validation'],
  ];
  for (const [output, label] of table) {
    const verdict = classifyFailure(failed(`working...\n${output}\n`), {}, NOW);
    t.equal(verdict.retryable, false, label);
    t.equal(verdict.rate_limited_until, undefined, `${label}: not a rate limit`);
  }
  t.equal(classifyFailure(failed('sh: claude: command not found', { exit_code: 127 }), {}, NOW).retryable, false, 'exit 127');
  t.equal(classifyFailure(failed('', { exit_code: 126 }), {}, NOW).matched, 'exit code 126');
});

t.test('transient failures are retryable', async t => {
  for (const output of ['503 Service Unavailable', 'Error: connect ECONNREFUSED 127.0.0.1:443', 'read ECONNRESET', 'API Error: 500 Internal Server Error', 'overloaded_error: Overloaded', 'tests failed: 3 of 40']) {
    const verdict = classifyFailure(failed(output), {}, NOW);
    t.equal(verdict.retryable, true, output);
    t.equal(verdict.rate_limited_until, undefined, `${output}: not a rate limit`);
  }
});

t.test('timeouts and stalls are retryable even when their output reads like a fatal error', async t => {
  for (const reason of ['timed_out', 'stalled'] as const) {
    const verdict = classifyFailure(failed('permission denied', { reason, exit_code: null, signal: 'SIGTERM' }), {}, NOW);
    t.equal(verdict.retryable, true, reason);
  }
});

t.test('a cancelled attempt and one whose binary is missing are not retried', async t => {
  t.equal(classifyFailure(failed('', { reason: 'cancelled', exit_code: null }), {}, NOW).retryable, false);
  t.equal(classifyFailure(failed('', { exit_code: null, spawn_error: 'ENOENT' }), {}, NOW).retryable, false);
  t.equal(classifyFailure(failed('', { exit_code: null, spawn_error: 'EACCES' }), {}, NOW).retryable, false);
});

t.test('a command that could not start because the machine ran out of descriptors, processes or memory is retried', async t => {
  for (const code of ['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']) {
    t.equal(classifyFailure(failed('', { exit_code: null, spawn_error: code }), {}, NOW).retryable, true, code);
  }
});

t.test('configured rules replace the defaults of their list', async t => {
  const rules = { non_retryable: { exit_codes: [42], patterns: ['schema drift'] } };
  t.equal(classifyFailure(failed('boom', { exit_code: 42 }), rules, NOW).retryable, false);
  t.equal(classifyFailure(failed('SCHEMA DRIFT detected'), rules, NOW).retryable, false, 'patterns are case-insensitive');
  t.equal(classifyFailure(failed('permission denied'), rules, NOW).retryable, true, 'the default patterns are replaced');
  t.equal(classifyFailure(failed('x', { exit_code: 75 }), { rate_limit: { exit_codes: [75] } }, NOW).rate_limited_until, NOW + RATE_LIMIT_FALLBACK_MS);
});

t.test('a rate limit parks until the reset time the output names, in each form', async t => {
  const table: [string, number][] = [
    ['Error: rate limit exceeded, reset at 2025-12-10T11:00:00Z', Date.parse('2025-12-10T11:00:00Z')],
    ['usage limit reached. Your limit resets at 2025-12-10 12:30 UTC', Date.parse('2025-12-10T12:30:00Z')],
    ['429 Too Many Requests: rate limit resets in 37 minutes', NOW + 37 * 60_000],
    ['Rate limit reached. Please try again in 6m0.5s.', NOW + 6 * 60_000 + 500],
    ['too many requests, retry after 120 seconds', NOW + 120_000],
    ['HTTP/1.1 429 Too Many Requests\nRetry-After: 30\ncontent-type: application/json', NOW + 30_000],
    ['rate limited; x-ratelimit-reset: 1765364400', 1765364400 * 1000],
    ['Claude AI usage limit reached|1765364400', 1765364400 * 1000],
    ['rate limit hit, resets in 1 hour and 30 minutes', NOW + 90 * 60_000],
  ];
  for (const [output, expected] of table) {
    const verdict = classifyFailure(failed(output), {}, NOW);
    t.equal(verdict.retryable, true, output);
    t.equal(verdict.rate_limited_until, expected, output);
  }
});

t.test('a rate limit without a reset time, or with one in the past, parks for the default', async t => {
  t.equal(classifyFailure(failed('Error: 429 too many requests'), {}, NOW).rate_limited_until, NOW + RATE_LIMIT_FALLBACK_MS);
  t.equal(classifyFailure(failed('rate limit, reset at 2020-01-01T00:00:00Z'), {}, NOW).rate_limited_until, NOW + RATE_LIMIT_FALLBACK_MS);
});

t.test('a far-off reset time is capped, and the latest mention wins', async t => {
  t.equal(classifyFailure(failed('rate limit, reset at 2099-01-01T00:00:00Z'), {}, NOW).rate_limited_until, NOW + MAX_RATE_LIMIT_PARK_MS);
  t.equal(findResetTime('rate limit resets in 5 minutes\nrate limit resets in 2 minutes', NOW), NOW + 2 * 60_000);
});

t.test('a rate limit counts before a non-retryable rule', async t => {
  const verdict = classifyFailure(failed('403 forbidden: usage limit reached, try again in 10 minutes'), {}, NOW);
  t.equal(verdict.retryable, true);
  t.equal(verdict.rate_limited_until, NOW + 10 * 60_000);
});

t.test('only the end of a long output is matched, where a command says why it stopped', async t => {
  const early = `implementing a rate limiter: too many requests handling\n${'progress line\n'.repeat(2000)}`;
  const verdict = classifyFailure(failed(`${early}tests failed\n`), {}, NOW);
  t.equal(verdict.rate_limited_until, undefined);
  t.equal(verdict.retryable, true);
});

t.test('the signature is the exit and the first error line, with numbers and times folded', async t => {
  const a = failureSignature(failed('\u001b[31mrunning 12 tests\u001b[0m\n2025-12-10T10:00:01Z Error: expected 3 to equal 4 (after 120ms)\nmore\n'));
  const b = failureSignature(failed('running 12 tests\n2025-12-10T10:07:44Z Error: expected 5 to equal 4 (after 98ms)\n'));
  t.equal(a, 'exit 1: <time> Error: expected # to equal # (after #ms)');
  t.equal(a, b, 'the same failure gives the same signature');
  t.not(failureSignature(failed('Error: boom', { exit_code: 2 })), a);
  t.equal(
    failureSignature(failed('', { reason: 'stalled', exit_code: null, error: 'no output for 300s: its process group was stopped' })),
    'stalled: no output for #s: its process group was stopped',
  );
  t.equal(failureSignature(failed('just text\nlast line')), 'exit 1: last line');
  const { error: _dropped, ...noError } = failed('', { signal: 'SIGSEGV', exit_code: null });
  t.equal(failureSignature(noError), 'signal SIGSEGV');
});

t.test('an invalid pattern is reported for config validation and matched as text at run time', async t => {
  t.same(patternProblems(['ok', '(unclosed']).length, 1);
  t.ok(compilePattern('(unclosed').test('saw (UNCLOSED here'));
});

t.test('durations in several spellings', async t => {
  t.equal(parseDuration('37 minutes'), 37 * 60_000);
  t.equal(parseDuration('2h 5m'), 2 * 3_600_000 + 5 * 60_000);
  t.equal(parseDuration('1500ms'), 1500);
  t.equal(parseDuration('1 day'), 86_400_000);
  t.equal(parseDuration('soon'), undefined);
});
