// The real `codex` (the pinned 0.171.0), run with the adapter's argv in a scratch project, against the
// OpenAI Responses stand-in on 127.0.0.1: what the adapter asks for works (the sandbox included), and what
// it reads back is right.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { codexAdapter } from '../../src/agents/codex.js';
import type { AgentInvocation } from '../../src/agents/types.js';
import { STAND_IN_DEFAULT_MODEL, startOpenAiStandIn } from '../fixtures/agent-api/openai.js';
import { STAND_IN_USAGE, type Responder, type StandIn } from '../fixtures/agent-api/stand-in.js';
import {
  HELLO_SOURCE,
  invocationFor,
  makeArtifactsDir,
  RESULT_CONTENT,
  runCodex,
  successResponder,
  SUCCESS_MESSAGE,
  type CodexRun,
} from '../fixtures/transcripts/codex/scenarios.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

/** No live run may take longer than this. */
const HARD_TIMEOUT_MS = 30_000;
/** An error codex does not retry (its retries are off) must end this fast (it took 0.4-0.9 s here). */
const QUICK_ERROR_MS = 10_000;
/**
 * A request that never answers is ended by our kill: codex has no timeout for the response headers
 * (stream_idle_timeout_ms starts with the stream). This is the hang test's hard timeout.
 */
const HANG_KILL_MS = 12_000;

interface LiveRun {
  readonly invocation: AgentInvocation;
  readonly standIn: StandIn;
  readonly run: CodexRun;
}

async function runLive(
  t: Test,
  responder: (invocation: AgentInvocation) => Responder,
  options: { invocation?: Partial<AgentInvocation>; timeoutMs?: number } = {},
): Promise<LiveRun> {
  const cwd = t.testdir({ 'README.md': '# scratch project\n' });
  const invocation = invocationFor(cwd, options.invocation);
  makeArtifactsDir(invocation);
  const standIn = await startOpenAiStandIn(t, responder(invocation));
  const argv = codexAdapter.argv({ ...invocation, extraArgs: [...standIn.args, ...invocation.extraArgs] });
  const run = await runCodex(argv, { cwd, env: standIn.env, timeoutMs: options.timeoutMs ?? HARD_TIMEOUT_MS });
  t.equal(run.leftovers, false, 'no process of the client outlives it');
  return { invocation, standIn, run };
}

function parse(run: CodexRun) {
  return codexAdapter.parse(run.stdout, run.stderr, run.exitCode);
}

t.test('implement writes a file with apply_patch under workspace-write; parse reads the run back', async t => {
  const { invocation, standIn, run } = await runLive(t, successResponder, { invocation: { model: 'gpt-5.5' } });
  t.equal(run.exitCode, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(readFileSync(join(invocation.cwd, 'src', 'hello.ts'), 'utf8'), HELLO_SOURCE);
  t.equal(standIn.requests.length, 2, 'the patch, then the final message');
  t.equal(standIn.requests[0]?.model, 'gpt-5.5', '--model reaches the API');
  t.ok(standIn.requests[0]?.prompt.endsWith(invocation.prompt), 'the prompt reaches the API');
  t.match(standIn.requests[1]?.lastToolResult, /Success\. Updated the following files:\nA .*src\/hello\.ts/);
  t.equal(readFileSync(join(invocation.artifactsDir, 'last-message.md'), 'utf8'), SUCCESS_MESSAGE, '-o wrote the last message');
  const report = parse(run);
  t.equal(report.final_message, SUCCESS_MESSAGE);
  t.same(report.tokens, {
    input: 2 * STAND_IN_USAGE.input_tokens,
    output: 2 * STAND_IN_USAGE.output_tokens,
    total: 2 * (STAND_IN_USAGE.input_tokens + STAND_IN_USAGE.output_tokens),
  });
  t.match(report.session_id, /^[0-9a-f-]{36}$/);
  t.equal(report.model, undefined, 'codex names no model it knows');
  t.equal(report.error, undefined);
});

t.test('without a model, config.toml\'s applies; a result file outside cwd is written thanks to --add-dir', async t => {
  const { invocation, standIn, run } = await runLive(
    t,
    invocation => request => (request.toolResults === 0 ? { kind: 'write_file', path: invocation.resultFile, content: RESULT_CONTENT } : { kind: 'text', text: 'ok' }),
    { invocation: { resultFile: `${t.testdirName}-runs/result.json`, artifactsDir: `${t.testdirName}-runs` } },
  );
  t.teardown(() => rmSync(invocation.artifactsDir, { recursive: true, force: true }));
  t.equal(run.exitCode, 0, run.stderr);
  t.ok(run.argv.includes('--add-dir'), 'the argv adds the result file\'s folder');
  t.equal(standIn.requests[0]?.model, STAND_IN_DEFAULT_MODEL);
  t.equal(readFileSync(invocation.resultFile, 'utf8'), RESULT_CONTENT, 'the patch outside cwd was applied');
});

t.test('the sandbox refuses a write outside cwd and the added dir', async t => {
  // Not beside the test dir: codex's workspace-write sandbox lets /tmp and $TMPDIR be written, so a
  // checkout under /tmp would make "outside" writable. The home folder is outside in any checkout.
  const outside = join(homedir(), `.orch-test-codex-outside-${process.pid}.txt`);
  t.teardown(() => rmSync(outside, { force: true }));
  const { standIn, run } = await runLive(t, () => request => (request.toolResults === 0 ? { kind: 'write_file', path: outside, content: 'no\n' } : { kind: 'text', text: 'ok' }));
  t.equal(run.exitCode, 0, run.stderr);
  t.notOk(existsSync(outside), 'nothing was written outside');
  t.match(standIn.requests[1]?.lastToolResult, /rejected/, `codex told the model: ${standIn.requests[1]?.lastToolResult ?? ''}`);
});

t.test('a prompt that starts with a dash is taken as the prompt, not as a flag', async t => {
  const prompt = '--full-auto -m nonsense: read this as text';
  const { standIn, run } = await runLive(t, () => () => ({ kind: 'text', text: 'ok' }), { invocation: { prompt } });
  t.equal(run.exitCode, 0, run.stderr);
  t.ok(standIn.requests[0]?.prompt.endsWith(prompt));
  t.equal(parse(run).final_message, 'ok');
});

t.test('401 is auth, and ends in seconds', async t => {
  const { run } = await runLive(t, () => () => ({ kind: 'error', status: 401, message: 'Incorrect API key provided' }));
  t.equal(run.exitCode, 1);
  t.ok(run.durationMs < QUICK_ERROR_MS, `${run.durationMs} ms`);
  t.match(parse(run).error, { kind: 'auth', status: 401, message: /^unexpected status 401 Unauthorized: Incorrect API key provided/ });
});

t.test('429 with retry-after 7 is rate_limit 429, and ends in seconds (codex drops the retry-after)', async t => {
  const { standIn, run } = await runLive(t, () => () => ({ kind: 'error', status: 429, message: 'Rate limit reached', retryAfterS: 7 }));
  t.equal(run.exitCode, 1);
  t.equal(standIn.requests.length, 1, 'no retry');
  t.ok(run.durationMs < QUICK_ERROR_MS, `${run.durationMs} ms`);
  const error = parse(run).error;
  t.match(error, { kind: 'rate_limit', status: 429, message: /^exceeded retry limit, last status: 429 Too Many Requests/ });
  t.equal(error?.retry_after_s, undefined, 'the header never reaches the output');
});

t.test('500 is server, and ends in seconds', async t => {
  const { run } = await runLive(t, () => () => ({ kind: 'error', status: 500, message: 'The server had an error' }));
  t.equal(run.exitCode, 1);
  t.ok(run.durationMs < QUICK_ERROR_MS, `${run.durationMs} ms`);
  t.match(parse(run).error, { kind: 'server', status: 500 });
});

t.test('a request that never answers is ended by our kill, not by the client; parse reports no error', async t => {
  const { standIn, run } = await runLive(t, () => () => ({ kind: 'hang' }), { timeoutMs: HANG_KILL_MS });
  t.equal(run.killed, true, `codex was still waiting after ${HANG_KILL_MS} ms`);
  t.equal(run.exitCode, null);
  t.equal(standIn.requests.length, 1, 'the request was held, not retried');
  const report = parse(run);
  t.equal(report.error, undefined, 'the runner\'s clock says why it ended');
  t.match(report.session_id, /^[0-9a-f-]{36}$/);
});

t.test('--full-auto (gone in 0.171) is usage, exit 2, before any request', async t => {
  const { standIn, run } = await runLive(t, successResponder, { invocation: { extraArgs: ['--full-auto'] } });
  t.equal(run.exitCode, 2);
  t.equal(standIn.requests.length, 0);
  t.same(parse(run).error, { kind: 'usage', message: "error: unexpected argument '--full-auto' found" });
});
