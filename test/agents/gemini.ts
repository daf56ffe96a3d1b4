// The Gemini CLI adapter on transcripts recorded from the real client (0.61.0) against the stand-in:
// test/fixtures/transcripts/gemini/record.ts made them, cases.json holds each run's exit code.
import t from 'tap';
import { lastFencedJson } from '../../src/agents/fenced-result.js';
import { geminiAdapter } from '../../src/agents/gemini.js';
import { STAND_IN_USAGE } from '../fixtures/agent-api/stand-in.js';
import { invocationFor, MODEL, SUCCESS_MESSAGE } from '../fixtures/transcripts/gemini/scenarios.js';
import { recorded } from '../fixtures/transcripts/recorded.js';

const { transcript, parseRecorded, renderAll } = recorded('gemini', geminiAdapter);

/** The session id the client announced in its init event. */
function initSession(stdout: string): string {
  const init = JSON.parse(stdout.split('\n')[0] ?? '{}') as { session_id?: string };
  if (init.session_id === undefined) throw new Error('transcript has no init event');
  return init.session_id;
}

/** The duration the client's result event reports (it differs per recording). */
function resultDurationMs(stdout: string): number {
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { stats?: { duration_ms?: number } };
  return result.stats?.duration_ms ?? Number.NaN;
}

t.test('the adapter names its client, version, streaming and credential variables', async t => {
  t.equal(geminiAdapter.provider, 'gemini');
  t.equal(geminiAdapter.binary, 'gemini');
  t.same(geminiAdapter.testedVersions, ['0.61.0']);
  t.equal(geminiAdapter.streams, true);
  t.same(geminiAdapter.credentialVars, ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT']);
});

t.test('argv', async t => {
  t.test('implement with a model: stream-json, trusted folder, auto_edit, --model, the prompt as --prompt=', async t => {
    const invocation = invocationFor('/work/repo');
    t.same(geminiAdapter.argv(invocation), [
      'gemini', '--output-format', 'stream-json', '--skip-trust', '--approval-mode', 'auto_edit',
      '--model', MODEL, `--prompt=${invocation.prompt}`,
    ]);
  });

  t.test('a decision phase without a model runs in default approval mode, extra args before the prompt', async t => {
    const invocation = invocationFor('/work/repo', { phase: 'plan', decides: true, model: undefined, extraArgs: ['--debug'] });
    t.same(geminiAdapter.argv(invocation), [
      'gemini', '--output-format', 'stream-json', '--skip-trust', '--approval-mode', 'default', '--debug', `--prompt=${invocation.prompt}`,
    ]);
  });

  t.test('a result file outside cwd gets its folder included first, so write_file may write it', async t => {
    const invocation = invocationFor('/work/worktrees/task-1', { resultFile: '/work/repo/.isollm/runs/task-1/1/result.json' });
    const argv = geminiAdapter.argv(invocation);
    t.same(argv.slice(0, 4), ['gemini', '--include-directories', '/work/repo/.isollm/runs/task-1/1', '--output-format']);
    t.notOk(geminiAdapter.argv({ ...invocation, decides: true }).includes('--include-directories'), 'a deciding phase writes nothing');
  });

  t.test('an empty model is no model; a prompt starting with a dash stays one word; a slash is not a command', async t => {
    const dashed = geminiAdapter.argv(invocationFor('/work/repo', { model: '', prompt: '--model x: not a flag' }));
    t.notOk(dashed.includes('--model'));
    t.equal(dashed.at(-1), '--prompt=--model x: not a flag');
    const slashed = geminiAdapter.argv(invocationFor('/work/repo', { prompt: '/quit now' }));
    t.equal(slashed.at(-1), '--prompt= /quit now');
  });
});

t.test('parse', async t => {
  t.test('success: the final message with its fenced block, model, tokens of every call, session id', async t => {
    const { stdout } = transcript('success');
    const report = parseRecorded('success');
    t.equal(report.final_message, SUCCESS_MESSAGE, 'the two streamed chunks of the last turn, joined');
    t.same(lastFencedJson(report.final_message), { outcome: 'done', reason: 'wrote src/hello.ts' });
    t.equal(report.model, MODEL);
    const calls = 3;
    t.same(report.tokens, {
      input: calls * STAND_IN_USAGE.input_tokens,
      output: calls * STAND_IN_USAGE.output_tokens,
      total: calls * (STAND_IN_USAGE.input_tokens + STAND_IN_USAGE.output_tokens),
    });
    t.equal(report.session_id, initSession(stdout));
    t.equal(report.error, undefined);
    t.equal(report.cost_usd, undefined, 'the client reports no cost');
    t.equal(report.events, 9);
  });

  t.test('no model asked: the routed model the answer named, not the routing classifier', async t => {
    const report = parseRecorded('decide-auto-model');
    t.equal(report.model, 'gemini-3.8-flash');
    t.same(lastFencedJson(report.final_message), { outcome: 'approved', reason: 'small and tested' });
    t.equal(report.error, undefined);
  });

  t.test('401: auth, with the status and the API message', async t => {
    const report = parseRecorded('auth-401');
    t.match(report.error, { kind: 'auth', status: 401, message: 'API error: API key not valid. Please pass a valid API key.' });
    t.equal(report.model, MODEL);
    t.same(report.tokens, { input: 0, output: 0, total: 0 });
  });

  t.test('429: rate_limit with the retry delay the API named (7 s), the status from stderr', async t => {
    const report = parseRecorded('rate-limit-429');
    t.match(report.error, { kind: 'rate_limit', status: 429, retry_after_s: 7, message: /^API error: Resource has been exhausted/ });
  });

  t.test('429 seen only through the exit code (status modulo 256) still classifies', async t => {
    const { stdout, exitCode } = transcript('rate-limit-429');
    t.equal(exitCode, 173);
    t.match(geminiAdapter.parse(stdout, '', exitCode).error, { kind: 'rate_limit', status: 429, retry_after_s: 7 });
  });

  t.test('500: server, with the status', async t => {
    t.match(parseRecorded('server-500').error, { kind: 'server', status: 500, message: 'API error: An internal error has occurred.' });
  });

  t.test('404 (the model is unknown) exits 1; its status is in the error the client dumps on stderr', async t => {
    const stdout = JSON.stringify({ type: 'result', status: 'error', error: { type: 'unknown', message: '[API Error: models/nope is not found]' } });
    const stderr = 'Error when talking to Gemini API Full report available at: /tmp/x.json ModelNotFoundError: models/nope is not found\n  code: 404\n}\n';
    t.same(geminiAdapter.parse(stdout, stderr, 1).error, { kind: 'request', message: 'API error: models/nope is not found', status: 404 });
  });

  t.test('connection refused: network', async t => {
    const report = parseRecorded('network-refused');
    t.match(report.error, { kind: 'network', message: /fetch failed/ });
    t.notOk(report.error && 'status' in report.error);
  });

  t.test('a hang stopped with SIGTERM exits 0 with no result: an error, never a success', async t => {
    const { exitCode } = transcript('hang-terminated');
    t.equal(exitCode, 0);
    const report = parseRecorded('hang-terminated');
    t.match(report.error, { kind: 'other', message: 'gemini exited with code 0 without a result' });
    t.equal(report.final_message, undefined);
    t.equal(report.model, MODEL, 'the init event named it');
  });

  t.test('a refused flag: usage, with yargs words and exit code 1', async t => {
    t.equal(transcript('usage-bad-flag').exitCode, 1);
    t.same(parseRecorded('usage-bad-flag').error, { kind: 'usage', message: 'Unknown argument: bogus' });
  });

  t.test('a refused flag value: usage, with the argument named', async t => {
    const stderr = 'Invalid values:\n  Argument: approval-mode, Given: "sometimes", Choices: "default", "auto_edit", "yolo", "plan"\nUsage: gemini [options] [command]\n';
    t.same(geminiAdapter.parse('', stderr, 1).error, {
      kind: 'usage',
      message: 'Invalid values: Argument: approval-mode, Given: "sometimes", Choices: "default", "auto_edit", "yolo", "plan"',
    });
  });

  t.test('no API key: auth (exit 41), with the client words', async t => {
    t.same(parseRecorded('no-api-key').error, { kind: 'auth', message: 'When using Gemini API, you must specify the GEMINI_API_KEY environment variable.' });
  });

  t.test('an untrusted folder (exit 55, red on stderr): usage', async t => {
    const stderr = '\u001b[31mGemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`.\u001b[0m\n';
    t.same(geminiAdapter.parse('', stderr, 55).error, { kind: 'usage', message: 'Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`.' });
  });

  t.test('a fatal error type in the result decides the kind', async t => {
    const result = JSON.stringify({ type: 'result', status: 'error', error: { type: 'FatalAuthenticationError', message: 'Invalid auth method selected.' } });
    t.same(geminiAdapter.parse(result, '', 41).error, { kind: 'auth', message: 'Invalid auth method selected.' });
  });

  t.test('a result of status error without an error object takes the last error event', async t => {
    const stdout = [
      JSON.stringify({ type: 'error', severity: 'error', message: 'Model stream ended with empty response text.' }),
      JSON.stringify({ type: 'result', status: 'error', stats: { total_tokens: 5 } }),
    ].join('\n');
    t.same(geminiAdapter.parse(stdout, '', 0).error, { kind: 'other', message: 'Model stream ended with empty response text.' });
  });

  t.test('garbage never throws: empty, noise, a truncated last line, a killed run', async t => {
    const { stdout } = transcript('success');
    const truncated = stdout.slice(0, stdout.lastIndexOf('"stats"'));
    const report = geminiAdapter.parse(`npm warn something\n${truncated}`, '', null);
    t.equal(report.final_message, SUCCESS_MESSAGE);
    t.match(report.error, { kind: 'other', message: 'gemini was stopped by a signal without a result' });
    t.same(geminiAdapter.parse('', '', null), { events: 0, error: { kind: 'other', message: 'gemini was stopped by a signal without a result' } });
    for (const junk of ['{', '[]', '{"type":1}', '{"type":"result","stats":[]}', 'null', '\u0000']) {
      t.doesNotThrow(() => geminiAdapter.parse(junk, junk, 1), junk);
      t.doesNotThrow(() => geminiAdapter.render(junk), junk);
    }
  });

  t.test('a text turn before a tool call is not the final message; the text after it is', async t => {
    const stdout = [
      { type: 'message', role: 'assistant', content: 'Let me write it.', delta: true },
      { type: 'tool_use', tool_name: 'write_file', tool_id: '1', parameters: { file_path: '/a' } },
      { type: 'tool_result', tool_id: '1', status: 'success' },
      { type: 'message', role: 'assistant', content: 'Done', delta: true },
      { type: 'message', role: 'assistant', content: '.', delta: true },
      { type: 'result', status: 'success', stats: {} },
    ].map(event => JSON.stringify(event)).join('\n');
    t.equal(geminiAdapter.parse(stdout, '', 0).final_message, 'Done.');
  });
});

t.test('render', async t => {
  t.test('success: init, the file each tool wrote, its result, the text, then the totals', async t => {
    const { stdout } = transcript('success');
    t.same(renderAll(stdout), [
      { kind: 'info', text: `gemini · ${MODEL} · session ${initSession(stdout)}` },
      { kind: 'tool', text: 'write_file $CWD/src/hello.ts' },
      { kind: 'tool', text: '  ↳ ok' },
      { kind: 'tool', text: 'write_file $CWD/.isollm/runs/task-1/attempt-1/result.json' },
      { kind: 'tool', text: '  ↳ ok' },
      { kind: 'text', text: 'I wrote src/hello.ts and the result file.\n\n```json\n{' },
      { kind: 'text', text: '"outcome":"done","reason":"wrote src/hello.ts"}\n```' },
      { kind: 'result', text: `done · 2 tool calls · ${(resultDurationMs(stdout) / 1000).toFixed(1)} s · 3000 in / 600 out` },
    ]);
  });

  t.test('an API error renders as one failed line with the API message', async t => {
    const lines = renderAll(transcript('server-500').stdout);
    t.same(lines.at(-1), { kind: 'error', text: 'failed: API error: An internal error has occurred. · 0 tool calls · 0 in / 0 out' });
  });

  t.test('a failed tool, a warning, and a line that is not JSON', async t => {
    const failed = JSON.stringify({ type: 'tool_result', tool_id: '1', status: 'error', error: { type: 'invalid_tool_params', message: 'File path must be within one of the workspace directories' } });
    t.same(geminiAdapter.render(failed), [{ kind: 'error', text: '  ↳ error: File path must be within one of the workspace directories' }]);
    t.same(geminiAdapter.render(JSON.stringify({ type: 'error', severity: 'warning', message: 'Loop detected' })), [{ kind: 'info', text: 'Loop detected' }]);
    t.same(geminiAdapter.render('YOLO mode is enabled.'), [{ kind: 'info', text: 'YOLO mode is enabled.' }]);
    t.same(geminiAdapter.render('   '), []);
    t.same(geminiAdapter.render(JSON.stringify({ type: 'message', role: 'user', content: 'the prompt' })), [], 'the prompt is not echoed');
  });
});
