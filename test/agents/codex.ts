// The Codex adapter on transcripts recorded from the real client (0.171.0) against the stand-in:
// test/fixtures/transcripts/codex/record.ts made them, cases.json holds each run's exit code.
import t from 'tap';
import { codexAdapter } from '../../src/agents/codex.js';
import { STAND_IN_USAGE } from '../fixtures/agent-api/stand-in.js';
import { invocationFor, SUCCESS_MESSAGE } from '../fixtures/transcripts/codex/scenarios.js';
import { recorded } from '../fixtures/transcripts/recorded.js';

const { transcript, parseRecorded, renderAll } = recorded('codex', codexAdapter);

/** The thread id of the transcript's thread.started event. */
function threadOf(stdout: string): string {
  const started = JSON.parse(stdout.split('\n')[0] ?? '{}') as { thread_id?: string };
  if (started.thread_id === undefined) throw new Error('transcript has no thread.started event');
  return started.thread_id;
}

/** The path the success transcript's patch wrote (its testdir when it was recorded). */
function patchedPath(stdout: string): string {
  const match = /"path":"([^"]+\/src\/hello\.ts)"/.exec(stdout);
  if (match?.[1] === undefined) throw new Error('transcript has no file_change');
  return match[1];
}

t.test('the adapter names its client, version, streaming and credential variables', async t => {
  t.equal(codexAdapter.provider, 'codex');
  t.equal(codexAdapter.binary, 'codex');
  t.same(codexAdapter.testedVersions, ['0.171.0']);
  t.equal(codexAdapter.streams, true);
  t.same(codexAdapter.credentialVars, ['OPENAI_API_KEY', 'CODEX_API_KEY']);
});

t.test('argv', async t => {
  const lastMessage = '/work/repo/.isollm/runs/task-1/attempt-1/last-message.md';

  t.test('implement without a model: exec --json, workspace-write, -o the last message, the prompt last after --', async t => {
    const invocation = invocationFor('/work/repo');
    t.same(codexAdapter.argv(invocation), [
      'codex', 'exec', '--json', '--sandbox', 'workspace-write', '--skip-git-repo-check',
      '--output-last-message', lastMessage, '--', invocation.prompt,
    ]);
  });

  t.test('a decision phase with a model and extra args: --model, then the args, then -- and the prompt', async t => {
    const invocation = invocationFor('/work/repo', { phase: 'plan', decides: true, model: 'gpt-5.5', extraArgs: ['-c', 'model_reasoning_effort="high"'] });
    t.same(codexAdapter.argv(invocation), [
      'codex', 'exec', '--json', '--sandbox', 'workspace-write', '--skip-git-repo-check', '--output-last-message', lastMessage,
      '--model', 'gpt-5.5', '-c', 'model_reasoning_effort="high"', '--', invocation.prompt,
    ]);
  });

  t.test('a result file outside cwd gets its folder added with --add-dir, so the sandbox lets it be written', async t => {
    const invocation = invocationFor('/work/worktrees/task-1', { resultFile: '/work/repo/.isollm/runs/task-1/1/result.json' });
    const argv = codexAdapter.argv(invocation);
    t.same(argv.slice(6, 8), ['--add-dir', '/work/repo/.isollm/runs/task-1/1']);
    t.same(argv.slice(-2), ['--', invocation.prompt]);
  });

  t.test('an empty model is no model, and a prompt that starts with a dash stays the prompt', async t => {
    const argv = codexAdapter.argv(invocationFor('/work/repo', { model: '', prompt: '--full-auto: not a flag' }));
    t.notOk(argv.includes('--model'));
    t.same(argv.slice(-2), ['--', '--full-auto: not a flag']);
  });
});

t.test('parse on recorded transcripts', async t => {
  t.test('success: the final message with its fenced block, tokens and thread; codex names no model', async t => {
    const { stdout } = transcript('success');
    const report = parseRecorded('success');
    t.equal(report.final_message, SUCCESS_MESSAGE);
    // Two API calls in the one turn (the patch, then the message), each reporting STAND_IN_USAGE.
    const input = 2 * STAND_IN_USAGE.input_tokens;
    const output = 2 * STAND_IN_USAGE.output_tokens;
    t.same(report.tokens, { input, output, total: input + output });
    t.equal(report.session_id, threadOf(stdout));
    t.equal(report.model, undefined, 'exec --json reports no model');
    t.equal(report.cost_usd, undefined, 'codex reports no cost');
    t.equal(report.structured, undefined, 'a message with prose is not structured output');
    t.equal(report.error, undefined);
    t.equal(report.events, stdout.trim().split('\n').length);
  });

  t.test('an unknown model: the same, and the model named by the client\'s metadata warning', async t => {
    const report = parseRecorded('success-unknown-model');
    t.equal(report.final_message, SUCCESS_MESSAGE);
    t.equal(report.model, 'gpt-stand-in');
    t.equal(report.error, undefined, 'the warning is not an error');
  });

  t.test('401: auth, with the status and the client\'s words', async t => {
    const report = parseRecorded('auth-401');
    t.match(report.error, { kind: 'auth', status: 401, message: /^unexpected status 401 Unauthorized: Incorrect API key provided/ });
    t.equal(report.error?.retry_after_s, undefined);
    t.equal(report.final_message, undefined);
    t.equal(report.tokens, undefined);
    t.equal(report.session_id, threadOf(transcript('auth-401').stdout));
  });

  t.test('429 with retry-after 7: rate_limit and 429, but codex drops the retry-after header and the body', async t => {
    const report = parseRecorded('rate-limit-429');
    t.same(report.error, { kind: 'rate_limit', status: 429, message: 'exceeded retry limit, last status: 429 Too Many Requests, request id: req_standin_error_429' });
  });

  t.test('a rate limit inside the stream (response.failed): rate_limit with retry_after_s from "try again in 7s"', async t => {
    t.same(parseRecorded('rate-limit-in-stream').error, {
      kind: 'rate_limit',
      message: 'rate limit exceeded: Rate limit reached for requests. Please try again in 7s.',
      retry_after_s: 7,
    });
  });

  t.test('500: server; codex words it "high demand", which it says for an HTTP 500 only', async t => {
    t.same(parseRecorded('server-500').error, { kind: 'server', status: 500, message: 'We’re currently experiencing high demand, which may cause temporary errors.' });
  });

  t.test('400: request, with the API\'s message out of the raw body codex prints', async t => {
    t.same(parseRecorded('bad-request-400').error, { kind: 'request', message: "Invalid value for 'reasoning.effort'." });
  });

  t.test('a request that never answers, killed: no error of the client\'s (the runner\'s clock says why)', async t => {
    const { stdout } = transcript('hang');
    t.same(parseRecorded('hang'), { events: 2, session_id: threadOf(stdout) });
  });

  t.test('a stream that stalls after its headers: network, at the idle timeout', async t => {
    t.same(parseRecorded('stream-idle-timeout').error, { kind: 'network', message: 'stream disconnected before completion: idle timeout waiting for SSE' });
  });

  t.test('connection refused, killed while codex waits for the network: network', async t => {
    t.same(parseRecorded('network-refused').error, { kind: 'network', message: 'Reconnecting... waiting for network (Connection failed: error sending request)' });
  });

  t.test('no API key in the environment: auth', async t => {
    t.same(parseRecorded('no-api-key').error, { kind: 'auth', message: 'Missing environment variable: `OPENAI_API_KEY`.' });
  });

  t.test('--full-auto: usage, exit 2, in the client\'s own words, with no events', async t => {
    t.equal(transcript('usage-bad-flag').exitCode, 2);
    t.same(parseRecorded('usage-bad-flag'), { events: 0, error: { kind: 'usage', message: "error: unexpected argument '--full-auto' found" } });
  });

  t.test('a config.toml codex refuses: usage, exit 1, with no events', async t => {
    t.equal(transcript('usage-bad-config').exitCode, 1);
    t.same(parseRecorded('usage-bad-config'), { events: 0, error: { kind: 'usage', message: 'Error loading config.toml: `wire_api = "chat"` is no longer supported.' } });
  });
});

t.test('parse on output cut short and on shapes not recorded', async t => {
  t.test('a truncated last line: the message and thread so far, no tokens, no error while it runs', async t => {
    const { stdout } = transcript('success');
    const cut = stdout.slice(0, stdout.lastIndexOf('{"type":"turn.completed"') + 30);
    const report = codexAdapter.parse(cut, '', null);
    t.equal(report.final_message, SUCCESS_MESSAGE);
    t.equal(report.session_id, threadOf(stdout));
    t.equal(report.tokens, undefined);
    t.equal(report.error, undefined);
  });

  t.test('noise before the JSON of a line is skipped', async t => {
    const { stdout, exitCode } = transcript('success');
    const noisy = stdout.split('\n').map(line => (line === '' ? line : `\u001b[0mwarn: x ${line}`)).join('\n');
    t.same(codexAdapter.parse(noisy, '', exitCode), parseRecorded('success'));
  });

  t.test('a final message that is only JSON (what --output-schema asks for) is also the structured result', async t => {
    const message = JSON.stringify({ type: 'item.completed', item: { id: 'item_1', type: 'agent_message', text: '{"outcome":"approved"}' } });
    t.same(codexAdapter.parse(`${message}\n`, '', 0).structured, { outcome: 'approved' });
  });

  t.test('a usage limit with a dated reset gives reset_at_ms (wording from codex-rs UsageLimitReachedError)', async t => {
    const failed = JSON.stringify({ type: 'turn.failed', error: { message: "You've hit your usage limit. Try again at Dec 3rd, 2026 4:05 PM." } });
    const report = codexAdapter.parse(`${failed}\n`, '', 1);
    t.same(report.error, { kind: 'rate_limit', message: "You've hit your usage limit. Try again at Dec 3rd, 2026 4:05 PM.", reset_at_ms: new Date(2026, 11, 3, 16, 5).getTime() });
  });

  t.test('a nonzero exit with neither events nor an error line: other, with the last stderr line', async t => {
    t.same(codexAdapter.parse('', 'Segmentation fault\n', 139), { events: 0, error: { kind: 'other', message: 'Segmentation fault' } });
    t.same(codexAdapter.parse('', '', 0), { events: 0 });
  });

  t.test('garbage never throws', async t => {
    const garbage = ['{', 'null', '[]', '{"type":1}', '{"type":"turn.completed","usage":[1]}', '{"type":"item.completed","item":{"type":"agent_message","text":5}}', '{"type":"turn.failed","error":"x"}', '{"type":"error"}'];
    for (const line of garbage) t.doesNotThrow(() => codexAdapter.parse(line, line, 1), line);
  });
});

t.test('render', async t => {
  t.test('success: the thread, the patch with its path, the text line by line, the tokens', async t => {
    const { stdout } = transcript('success');
    const lines = renderAll(stdout);
    t.same(lines[0], { kind: 'info', text: `codex · thread ${threadOf(stdout)}` });
    t.same(lines[1], { kind: 'tool', text: `patch: add ${patchedPath(stdout)}` });
    t.same(lines.filter(line => line.kind === 'text').map(line => line.text), SUCCESS_MESSAGE.split('\n'));
    t.same(lines.at(-1), { kind: 'result', text: 'done · 2000 in / 400 out' });
  });

  t.test('an unknown model\'s warning is info, not an error', async t => {
    const lines = renderAll(transcript('success-unknown-model').stdout);
    t.match(lines[1], { kind: 'info', text: /^warning: Model metadata for `gpt-stand-in` not found/ });
  });

  t.test('errors: the error event and the failed turn', async t => {
    const lines = renderAll(transcript('auth-401').stdout);
    t.same(lines.slice(1).map(line => line.kind), ['error', 'error']);
    t.match(lines.at(-1)?.text, /^failed: unexpected status 401 Unauthorized/);
  });

  t.test('a command shows when it starts, and its exit code and last output line when it ends', async t => {
    const started = JSON.stringify({ type: 'item.started', item: { id: 'item_1', type: 'command_execution', command: "/bin/bash -lc 'npm test'", aggregated_output: '', exit_code: null, status: 'in_progress' } });
    const ended = JSON.stringify({ type: 'item.completed', item: { id: 'item_1', type: 'command_execution', command: "/bin/bash -lc 'npm test'", aggregated_output: 'ran 3\n1 failed\n', exit_code: 1, status: 'failed' } });
    t.same(codexAdapter.render(started), [{ kind: 'tool', text: "$ /bin/bash -lc 'npm test'" }]);
    t.same(codexAdapter.render(ended), [{ kind: 'error', text: '  ↳ exit 1: 1 failed' }]);
  });

  t.test('blank lines and unknown events render nothing; noise renders as info; nothing throws', async t => {
    t.same(codexAdapter.render(''), []);
    t.same(codexAdapter.render('{"type":"turn.started"}'), []);
    t.same(codexAdapter.render('Reading additional input from stdin...'), [{ kind: 'info', text: 'Reading additional input from stdin...' }]);
    const garbage = ['{', '{"type":"item.completed"}', '{"type":"item.completed","item":{"type":"file_change","changes":[null,1]}}', '{"type":"item.started","item":{"type":"todo_list","items":"x"}}', '{"type":"turn.completed","usage":null}'];
    for (const line of garbage) t.doesNotThrow(() => codexAdapter.render(line), line);
  });
});
