// The real `claude` (the pinned 2.1.197), run with the adapter's argv in a scratch project, against the
// Anthropic stand-in on 127.0.0.1: what the adapter asks for works, and what it reads back is right.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { claudeCodeAdapter } from '../../src/agents/claude-code.js';
import type { AgentInvocation } from '../../src/agents/types.js';
import { CLIENT_API_TIMEOUT_MS, startAnthropicStandIn } from '../fixtures/agent-api/anthropic.js';
import { STAND_IN_USAGE, type Responder, type StandIn } from '../fixtures/agent-api/stand-in.js';
import {
  HELLO_SOURCE,
  invocationFor,
  RESULT_CONTENT,
  runClaude,
  successResponder,
  SUCCESS_MESSAGE,
  type ClaudeRun,
} from '../fixtures/transcripts/claude-code/scenarios.js';
import { waitFor } from '../fixtures/wait-for.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

/** No live run may take longer than this; the 429 case waits its 7 s retry-after once. */
const HARD_TIMEOUT_MS = 30_000;
/** An error the client does not retry must end this fast (it took 1-1.5 s here). */
const QUICK_ERROR_MS = 10_000;

interface LiveRun {
  readonly invocation: AgentInvocation;
  readonly standIn: StandIn;
  readonly run: ClaudeRun;
}

async function runLive(
  t: Test,
  responder: (invocation: AgentInvocation) => Responder,
  options: { invocation?: Partial<AgentInvocation>; env?: Record<string, string>; signal?: AbortSignal; onStandIn?: (standIn: StandIn) => void } = {},
): Promise<LiveRun> {
  const cwd = t.testdir({ 'README.md': '# scratch project\n' });
  const invocation = invocationFor(cwd, options.invocation);
  const standIn = await startAnthropicStandIn(t, responder(invocation));
  options.onStandIn?.(standIn);
  const run = await runClaude(claudeCodeAdapter.argv(invocation), {
    cwd,
    env: { ...standIn.env, ...options.env },
    timeoutMs: HARD_TIMEOUT_MS,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  t.equal(run.leftovers, false, 'no process of the client outlives it');
  return { invocation, standIn, run };
}

function parse(run: ClaudeRun) {
  return claudeCodeAdapter.parse(run.stdout, run.stderr, run.exitCode);
}

t.test('implement writes a file and the result file with the Write tool; parse reads the run back', async t => {
  const { invocation, standIn, run } = await runLive(t, successResponder, { invocation: { model: 'claude-sonnet-4-5' } });
  t.equal(run.exitCode, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(readFileSync(join(invocation.cwd, 'src', 'hello.ts'), 'utf8'), HELLO_SOURCE);
  t.equal(readFileSync(invocation.resultFile, 'utf8'), RESULT_CONTENT, 'the result file under cwd/.isollm/runs is allowed');
  t.equal(standIn.requests.length, 3, 'write, write, final message');
  t.equal(standIn.requests[0]?.model, 'claude-sonnet-4-5', '--model reaches the API');
  t.ok(standIn.requests[0]?.prompt.endsWith(invocation.prompt), 'the prompt reaches the API');
  t.equal(standIn.requests[2]?.toolResults, 2);
  const report = parse(run);
  t.equal(report.final_message, SUCCESS_MESSAGE);
  t.equal(report.model, 'claude-sonnet-4-5');
  t.ok(report.cost_usd !== undefined && report.cost_usd > 0, `cost ${report.cost_usd} > 0`);
  t.same(report.tokens, {
    input: 3 * STAND_IN_USAGE.input_tokens,
    output: 3 * STAND_IN_USAGE.output_tokens,
    total: 3 * (STAND_IN_USAGE.input_tokens + STAND_IN_USAGE.output_tokens),
  });
  t.match(report.session_id, /^[0-9a-f-]{36}$/);
  t.equal(report.error, undefined);
});

t.test('a result file outside cwd is written thanks to --add-dir', async t => {
  const elsewhere = `${t.testdirName}-runs`;
  const resultFile = join(elsewhere, 'result.json');
  // --add-dir of a folder that does not exist yet is ignored without a word: the runtime makes it first.
  mkdirSync(elsewhere, { recursive: true });
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  const { run } = await runLive(
    t,
    invocation => request => (request.toolResults === 0 ? { kind: 'write_file', path: invocation.resultFile, content: RESULT_CONTENT } : { kind: 'text', text: 'ok' }),
    { invocation: { resultFile } },
  );
  t.equal(run.exitCode, 0);
  t.ok(existsSync(resultFile), 'the Write tool wrote outside cwd');
});

t.test('a prompt that starts with a dash is taken as the prompt, not as a flag', async t => {
  const prompt = '--model nonsense -p: read this as text';
  const { standIn, run } = await runLive(t, () => () => ({ kind: 'text', text: 'ok' }), { invocation: { prompt } });
  t.equal(run.exitCode, 0, run.stderr);
  t.ok(standIn.requests[0]?.prompt.endsWith(prompt));
  t.equal(parse(run).final_message, 'ok');
});

t.test('401 is auth, and ends in seconds', async t => {
  const { run } = await runLive(t, () => () => ({ kind: 'error', status: 401, message: 'invalid x-api-key' }));
  t.equal(run.exitCode, 1);
  t.ok(run.durationMs < QUICK_ERROR_MS, `${run.durationMs} ms`);
  t.same(parse(run).error, { kind: 'auth', message: 'Invalid API key · Fix external API key', status: 401 });
});

t.test('429 with retry-after 7 is rate_limit with retry_after_s 7 (one client retry shows it)', async t => {
  const { standIn, run } = await runLive(t, () => () => ({ kind: 'error', status: 429, message: 'rate limited', retryAfterS: 7 }), {
    env: { CLAUDE_CODE_MAX_RETRIES: '1' },
  });
  t.equal(run.exitCode, 1);
  t.equal(standIn.requests.length, 2, 'the first try and one retry');
  t.ok(run.durationMs >= 7_000 && run.durationMs < 7_000 + QUICK_ERROR_MS, `waited the retry-after once: ${run.durationMs} ms`);
  t.match(parse(run).error, { kind: 'rate_limit', status: 429, retry_after_s: 7, message: 'API Error: Request rejected (429) · rate limited' });
});

t.test('500 is server, and ends in seconds', async t => {
  const { run } = await runLive(t, () => () => ({ kind: 'error', status: 500, message: 'Internal server error' }));
  t.equal(run.exitCode, 1);
  t.ok(run.durationMs < QUICK_ERROR_MS, `${run.durationMs} ms`);
  t.match(parse(run).error, { kind: 'server', status: 500 });
});

t.test('a request that never answers', async t => {
  t.test('keeps the client alive until it is killed', async t => {
    const abort = new AbortController();
    let standIn: StandIn | undefined;
    const running = runLive(t, () => () => ({ kind: 'hang' }), { signal: abort.signal, onStandIn: s => (standIn = s) });
    await waitFor('the stand-in to hold the request', () => standIn !== undefined && standIn.requests.length === 1);
    abort.abort();
    const { run } = await running;
    t.equal(run.signal, 'SIGKILL', 'it was still running when killed');
    t.ok(run.durationMs < CLIENT_API_TIMEOUT_MS, 'killed before its own timeout');
    const report = parse(run);
    t.same(report.error, { kind: 'other', message: 'claude was stopped by a signal without a result' });
    t.match(report.session_id, /^[0-9a-f-]{36}$/);
  });

  t.test('or ends by its own API_TIMEOUT_MS as network "Request timed out"', async t => {
    const timeoutMs = 3_000;
    const { run } = await runLive(t, () => () => ({ kind: 'hang' }), { env: { API_TIMEOUT_MS: String(timeoutMs) } });
    t.equal(run.exitCode, 1);
    t.ok(run.durationMs >= timeoutMs && run.durationMs < timeoutMs + QUICK_ERROR_MS, `${run.durationMs} ms`);
    t.same(parse(run).error, { kind: 'network', message: 'Request timed out' });
  });
});

t.test('a flag the client refuses is a usage error with its own message and exit code 1', async t => {
  const { standIn, run } = await runLive(t, successResponder, { invocation: { extraArgs: ['--bogus'] } });
  t.equal(run.exitCode, 1);
  t.equal(run.stdout, '');
  t.equal(standIn.requests.length, 0);
  t.same(parse(run), { events: 0, error: { kind: 'usage', message: "error: unknown option '--bogus'" } });
});

t.test('the stand-in answers probes, count_tokens and side calls without counting them', async t => {
  const standIn = await startAnthropicStandIn(t, () => ({ kind: 'text', text: 'main' }));
  const post = async (path: string, body: unknown): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(`${standIn.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, json: await response.json() };
  };
  t.equal((await fetch(`${standIn.url}/`, { method: 'HEAD' })).status, 200);
  t.match(await post('/v1/messages/count_tokens?beta=true', { model: 'm', messages: [] }), { status: 200, json: { input_tokens: 1000 } });
  const side = await post('/v1/messages?beta=true', { model: 'claude-haiku', stream: false, messages: [{ role: 'user', content: 'a title' }] });
  t.match(side, { status: 200, json: { type: 'message', content: [{ type: 'text' }], stop_reason: 'end_turn' } });
  t.same(standIn.requests, []);
  const main = await post('/v1/messages', { model: 'm', stream: false, tools: [{ name: 'Write' }], messages: [{ role: 'user', content: 'hi' }] });
  t.match(main, { status: 200, json: { content: [{ type: 'text', text: 'main' }], usage: STAND_IN_USAGE } });
  t.same(standIn.requests, [{ model: 'm', prompt: 'hi', toolResults: 0, path: '/v1/messages' }]);
});
