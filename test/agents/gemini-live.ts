// The real `gemini` (the pinned 0.61.0), run with the adapter's argv in a scratch project, against the
// Gemini stand-in on 127.0.0.1: what the adapter asks for works, and what it reads back is right.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { lastFencedJson } from '../../src/agents/fenced-result.js';
import { geminiAdapter } from '../../src/agents/gemini.js';
import type { AgentInvocation } from '../../src/agents/types.js';
import { startGeminiStandIn } from '../fixtures/agent-api/gemini.js';
import { STAND_IN_USAGE, type Responder, type StandIn } from '../fixtures/agent-api/stand-in.js';
import {
  HELLO_SOURCE,
  invocationFor,
  MODEL,
  RESULT_CONTENT,
  runGemini,
  successResponder,
  SUCCESS_MESSAGE,
  type GeminiRun,
} from '../fixtures/transcripts/gemini/scenarios.js';
import { waitFor } from '../fixtures/wait-for.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

/**
 * No live run may take longer than this. A run takes 2.5-5 s on an idle machine, nearly all of it the
 * client's start (loading its 16 MB bundle: about 3 s of CPU, once, as the stand-in runs it without its
 * relaunch; see test/fixtures/agent-api/gemini.ts); with the 2 cores busy, 15 s.
 */
const HARD_TIMEOUT_MS = 45_000;
/**
 * How soon after the API's error answer the client must have exited: with general.maxAttempts 1 it
 * tries once (its own retries wait 5 s and more, and a 429 would wait its 7 s). Measured from the
 * answer, not the start, so a slow start on a busy machine does not count.
 */
const QUICK_ERROR_MS = 5_000;

interface LiveRun {
  readonly invocation: AgentInvocation;
  readonly standIn: StandIn;
  readonly run: GeminiRun;
  /** Milliseconds from the stand-in's last answer of the main conversation to the client's exit. */
  readonly afterLastAnswerMs: number;
}

interface LiveOptions {
  readonly invocation?: Partial<AgentInvocation>;
  readonly signal?: AbortSignal;
  readonly killSignal?: NodeJS.Signals;
  readonly onStandIn?: (standIn: StandIn) => void;
  /** Run the client as users do, relaunching itself; else without (see GeminiStandInOptions.relaunch). */
  readonly relaunch?: boolean;
}

async function runLive(t: Test, responder: (invocation: AgentInvocation) => Responder, options: LiveOptions = {}): Promise<LiveRun> {
  const cwd = t.testdir({ 'README.md': '# scratch project\n' });
  const invocation = invocationFor(cwd, options.invocation);
  const respond = responder(invocation);
  let lastAnswerAt = Number.NaN;
  const standIn = await startGeminiStandIn(
    t,
    request => {
      lastAnswerAt = Date.now();
      return respond(request);
    },
    { clientOnly: true, relaunch: options.relaunch ?? false },
  );
  options.onStandIn?.(standIn);
  const run = await runGemini(geminiAdapter.argv(invocation), {
    cwd,
    env: standIn.env,
    timeoutMs: HARD_TIMEOUT_MS,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.killSignal === undefined ? {} : { killSignal: options.killSignal }),
  });
  t.equal(run.leftovers, false, 'no process of the client outlives it');
  return { invocation, standIn, run, afterLastAnswerMs: Date.now() - lastAnswerAt };
}

function parse(run: GeminiRun) {
  return geminiAdapter.parse(run.stdout, run.stderr, run.exitCode);
}

const errorResponder = (status: number, message: string, retryAfterS?: number) => (): Responder => () => ({
  kind: 'error',
  status,
  message,
  ...(retryAfterS === undefined ? {} : { retryAfterS }),
});

t.test('implement writes a file and the result file with write_file; parse reads the run back', async t => {
  const { invocation, standIn, run } = await runLive(t, successResponder);
  t.equal(run.exitCode, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(readFileSync(join(invocation.cwd, 'src', 'hello.ts'), 'utf8'), HELLO_SOURCE);
  t.equal(readFileSync(invocation.resultFile, 'utf8'), RESULT_CONTENT, 'auto_edit writes the result file under cwd/.isollm/runs');
  t.equal(standIn.requests.length, 3, 'write, write, final message');
  t.equal(standIn.requests[0]?.model, MODEL, '--model reaches the API');
  t.ok(standIn.requests[0]?.prompt.endsWith(invocation.prompt), 'the prompt reaches the API');
  t.equal(standIn.requests[2]?.toolResults, 2);
  t.match(standIn.requests[2]?.lastToolResult, /^Successfully created and wrote to new file: .*result\.json/);
  const report = parse(run);
  t.equal(report.final_message, SUCCESS_MESSAGE);
  t.same(lastFencedJson(report.final_message), { outcome: 'done', reason: 'wrote src/hello.ts' });
  t.equal(report.model, MODEL);
  t.same(report.tokens, {
    input: 3 * STAND_IN_USAGE.input_tokens,
    output: 3 * STAND_IN_USAGE.output_tokens,
    total: 3 * (STAND_IN_USAGE.input_tokens + STAND_IN_USAGE.output_tokens),
  });
  t.match(report.session_id, /^[0-9a-f-]{36}$/);
  t.equal(report.cost_usd, undefined);
  t.equal(report.error, undefined);
});

t.test('a deciding phase cannot write; with no model the routed one is reported; a dashed prompt stays text', async t => {
  const prompt = '--approval-mode yolo: this is text, not a flag. Review the plan; end with a fenced ```json block.';
  const verdict = 'Looks fine.\n\n```json\n{"outcome":"approved"}\n```';
  const { invocation, standIn, run } = await runLive(
    t,
    invocation => request =>
      request.toolResults === 0 ? { kind: 'write_file', path: join(invocation.cwd, 'sneaky.txt'), content: 'no' } : { kind: 'text', text: verdict },
    { invocation: { phase: 'code_review', decides: true, model: undefined, prompt } },
  );
  t.equal(run.exitCode, 0, run.stderr);
  t.notOk(existsSync(join(invocation.cwd, 'sneaky.txt')), 'write_file is not offered in default approval mode headless');
  t.match(standIn.requests[1]?.lastToolResult, /not found/i, 'the client told the model the tool does not exist');
  t.ok(standIn.requests[0]?.prompt.endsWith(prompt), 'the whole prompt arrived as the prompt');
  t.equal(standIn.requests.length, 2, 'the routing classifier call is not counted');
  const report = parse(run);
  t.same(lastFencedJson(report.final_message), { outcome: 'approved' });
  t.equal(report.model, standIn.requests[0]?.model, 'the model the client routed to');
  t.same(report.tokens, { input: 2 * STAND_IN_USAGE.input_tokens, output: 2 * STAND_IN_USAGE.output_tokens, total: 2400 });
});

t.test('a result file outside cwd is written thanks to --include-directories', async t => {
  const elsewhere = `${t.testdirName}-runs`;
  const resultFile = join(elsewhere, 'result.json');
  mkdirSync(elsewhere, { recursive: true });
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  const { run } = await runLive(
    t,
    invocation => request => (request.toolResults === 0 ? { kind: 'write_file', path: invocation.resultFile, content: RESULT_CONTENT } : { kind: 'text', text: 'ok' }),
    { invocation: { resultFile } },
  );
  t.equal(run.exitCode, 0, run.stderr);
  t.equal(readFileSync(resultFile, 'utf8'), RESULT_CONTENT, 'write_file wrote outside cwd');
});

t.test('429 with retry-after 7 is rate_limit with retry_after_s 7, and ends in seconds (exit 173)', async t => {
  const { standIn, run, afterLastAnswerMs } = await runLive(t, errorResponder(429, 'Resource has been exhausted (e.g. check quota).', 7));
  t.equal(run.exitCode, 173);
  t.equal(standIn.requests.length, 1, 'no retry');
  t.ok(afterLastAnswerMs < QUICK_ERROR_MS, `did not wait the 7 s: exited ${afterLastAnswerMs} ms after the 429 (run ${run.durationMs} ms)`);
  t.same(parse(run).error, { kind: 'rate_limit', message: 'API error: Resource has been exhausted (e.g. check quota).', status: 429, retry_after_s: 7 });
});

t.test('a request that never answers runs until killed; SIGTERM to its group ends it with exit 0 and no result', async t => {
  const abort = new AbortController();
  let standIn: StandIn | undefined;
  let terminatedAt = 0;
  // As users run it: the parent that ignores SIGTERM is what makes the group the thing to signal.
  const running = runLive(t, () => () => ({ kind: 'hang' }), { signal: abort.signal, killSignal: 'SIGTERM', onStandIn: s => (standIn = s), relaunch: true });
  await waitFor('the stand-in to hold the request', () => standIn !== undefined && standIn.requests.length === 1, HARD_TIMEOUT_MS);
  terminatedAt = Date.now();
  abort.abort();
  const { run } = await running;
  const afterTerm = Date.now() - terminatedAt;
  t.ok(run.killed);
  t.equal(run.exitCode, 0, 'the client exits 0 on SIGTERM');
  t.ok(afterTerm < 5_000, `it ended ${afterTerm} ms after SIGTERM, before the SIGKILL`);
  const report = parse(run);
  t.same(report.error, { kind: 'other', message: 'gemini exited with code 0 without a result' });
  t.match(report.session_id, /^[0-9a-f-]{36}$/);
});

t.test('a flag the client refuses is a usage error with its own message and exit code 1', async t => {
  const { standIn, run } = await runLive(t, successResponder, { invocation: { extraArgs: ['--bogus'] } });
  t.equal(run.exitCode, 1);
  t.equal(run.stdout, '');
  t.equal(standIn.requests.length, 0);
  t.same(parse(run), { events: 0, error: { kind: 'usage', message: 'Unknown argument: bogus' } });
});

t.test('the stand-in answers side calls and countTokens without counting them', async t => {
  const standIn = await startGeminiStandIn(t, () => ({ kind: 'text', text: 'main' }));
  const post = async (path: string, body: unknown): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(`${standIn.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, json: await response.json() };
  };
  t.match(await post('/v1beta/models/m:countTokens', { contents: [] }), { status: 200, json: { totalTokens: 1000 } });
  const schema = { type: 'OBJECT', properties: { reason: { type: 'STRING' }, score: { type: 'INTEGER' } }, required: ['reason', 'score'] };
  const side = await post('/v1beta/models/gemini-flash-lite:generateContent', { contents: [], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema } });
  t.match(side, { status: 200, json: { candidates: [{ content: { parts: [{ text: '{"reason":"stand-in","score":1}' }] }, finishReason: 'STOP' }] } });
  t.same(standIn.requests, []);
  const main = await post('/v1beta/models/m:generateContent', {
    contents: [{ role: 'user', parts: [{ text: 'context' }, { text: 'hi' }] }],
    tools: [{ functionDeclarations: [{ name: 'write_file' }] }],
  });
  t.match(main, { status: 200, json: { candidates: [{ content: { parts: [{ text: 'main' }] } }], usageMetadata: { promptTokenCount: 1000, candidatesTokenCount: 200 } } });
  t.same(standIn.requests, [{ model: 'm', prompt: 'context\nhi', toolResults: 0, path: '/v1beta/models/m:generateContent' }]);
  t.match(await post('/v1beta/models/m:embedContent', {}), { status: 404, json: { error: { code: 404, status: 'NOT_FOUND' } } });
});
