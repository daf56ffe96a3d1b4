// The Claude Code adapter on transcripts recorded from the real client (2.1.197) against the stand-in:
// test/fixtures/transcripts/claude-code/record.ts made them, cases.json holds each run's exit code.
import t from 'tap';
import { claudeCodeAdapter } from '../../src/agents/claude-code.js';
import { STAND_IN_USAGE } from '../fixtures/agent-api/stand-in.js';
import { invocationFor, SUCCESS_MESSAGE } from '../fixtures/transcripts/claude-code/scenarios.js';
import { recorded } from '../fixtures/transcripts/recorded.js';

const { transcript, parseRecorded, renderAll } = recorded('claude-code', claudeCodeAdapter);

/** The session id the client announced in its init event. */
function initSession(stdout: string): string {
  const init = JSON.parse(stdout.split('\n')[0] ?? '{}') as { session_id?: string };
  if (init.session_id === undefined) throw new Error('transcript has no init event');
  return init.session_id;
}

t.test('the adapter names its client, version, streaming and credential variables', async t => {
  t.equal(claudeCodeAdapter.provider, 'claude_code');
  t.equal(claudeCodeAdapter.binary, 'claude');
  t.same(claudeCodeAdapter.testedVersions, ['2.1.197']);
  t.equal(claudeCodeAdapter.streams, true);
  t.same(claudeCodeAdapter.credentialVars, ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN']);
});

t.test('argv', async t => {
  t.test('implement without a model: headless stream-json, acceptEdits, the prompt last after --', async t => {
    const invocation = invocationFor('/work/repo');
    t.same(claudeCodeAdapter.argv(invocation), [
      'claude', '-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits', '--', invocation.prompt,
    ]);
  });

  t.test('a decision phase with a model and extra args: --model, then the args, then -- and the prompt', async t => {
    const invocation = invocationFor('/work/repo', { phase: 'plan', decides: true, model: 'claude-sonnet-4-5', extraArgs: ['--max-budget-usd', '2'] });
    t.same(claudeCodeAdapter.argv(invocation), [
      'claude', '-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits',
      '--model', 'claude-sonnet-4-5', '--max-budget-usd', '2', '--', invocation.prompt,
    ]);
  });

  t.test('a result file outside cwd gets its folder added with --add-dir, so the Write tool may write it', async t => {
    const invocation = invocationFor('/work/worktrees/task-1', { resultFile: '/work/repo/.isollm/runs/task-1/1/result.json' });
    const argv = claudeCodeAdapter.argv(invocation);
    t.same(argv.slice(7, 9), ['--add-dir', '/work/repo/.isollm/runs/task-1/1']);
    t.same(argv.slice(-2), ['--', invocation.prompt]);
  });

  t.test('an empty model is no model, and a prompt that starts with a dash stays the prompt', async t => {
    const invocation = invocationFor('/work/repo', { model: '', prompt: '--model x: not a flag' });
    const argv = claudeCodeAdapter.argv(invocation);
    t.notOk(argv.includes('--model'));
    t.same(argv.slice(-2), ['--', '--model x: not a flag']);
  });
});

t.test('parse on recorded transcripts', async t => {
  t.test('success: the final message with its fenced block, the model, cost, tokens and session', async t => {
    const { stdout } = transcript('success');
    const report = parseRecorded('success');
    t.equal(report.final_message, SUCCESS_MESSAGE);
    t.equal(report.model, 'claude-sonnet-4-5');
    t.ok(report.cost_usd !== undefined && report.cost_usd > 0, `cost ${report.cost_usd} > 0`);
    // Three API calls, each reporting STAND_IN_USAGE.
    t.same(report.tokens, { input: 3 * STAND_IN_USAGE.input_tokens, output: 3 * STAND_IN_USAGE.output_tokens, total: 3 * 1200 });
    t.equal(report.session_id, initSession(stdout));
    t.equal(report.error, undefined);
    t.equal(report.events, stdout.trim().split('\n').length);
  });

  t.test('401: auth, with the status and the client\'s words', async t => {
    const report = parseRecorded('auth-401');
    t.same(report.error, { kind: 'auth', message: 'Invalid API key · Fix external API key', status: 401 });
    t.equal(report.final_message, undefined, 'the client\'s error text is not taken for the agent\'s message');
    t.equal(report.cost_usd, 0);
  });

  t.test('429 with retry-after 7: rate_limit, retry_after_s 7 from the client\'s api_retry event', async t => {
    const report = parseRecorded('rate-limit-429');
    t.match(report.error, { kind: 'rate_limit', status: 429, retry_after_s: 7, message: /Request rejected \(429\)/ });
    t.equal(report.error?.reset_at_ms, undefined, 'an API key user gets no reset time');
  });

  t.test('500: server', async t => {
    t.match(parseRecorded('server-500').error, { kind: 'server', status: 500, message: /^API Error: 500 Internal server error/ });
  });

  t.test('a request that never answers ends at API_TIMEOUT_MS: network, "Request timed out"', async t => {
    t.same(parseRecorded('hang').error, { kind: 'network', message: 'Request timed out' });
  });

  t.test('connection refused: network', async t => {
    t.same(parseRecorded('network-refused').error, { kind: 'network', message: 'API Error: Unable to connect to API (ConnectionRefused)' });
  });

  t.test('a bad flag: usage, in the client\'s own words, with no events', async t => {
    const report = parseRecorded('usage-bad-flag');
    t.same(report, { events: 0, error: { kind: 'usage', message: "error: unknown option '--bogus'" } });
  });

  t.test('no credentials at all: auth', async t => {
    t.same(parseRecorded('not-logged-in').error, { kind: 'auth', message: 'Not logged in · Please run /login' });
  });

  t.test('--max-budget-usd reached: other, with the client\'s errors list, and the cost spent', async t => {
    const report = parseRecorded('budget-exceeded');
    t.same(report.error, { kind: 'other', message: 'Reached maximum budget ($0.001)' });
    t.equal(report.cost_usd, 0.01);
    t.same(report.tokens, { input: 1000, output: 200, total: 1200 });
  });
});

t.test('parse on output cut short', async t => {
  t.test('killed while retrying a 429: rate_limit from the api_retry event, no result needed', async t => {
    const lines = transcript('rate-limit-429').stdout.split('\n');
    const untilRetry = lines.slice(0, lines.findIndex(line => line.includes('"api_retry"')) + 1).join('\n');
    const report = claudeCodeAdapter.parse(untilRetry, '', null);
    t.match(report.error, { kind: 'rate_limit', status: 429, retry_after_s: 7 });
    t.equal(report.session_id, initSession(untilRetry));
  });

  t.test('killed while retrying a refused connection: network (the client sends no status for it)', async t => {
    // Copied from a real 2.1.197 run with CLAUDE_CODE_MAX_RETRIES=1 against a closed port.
    const retry = '{"type":"system","subtype":"api_retry","attempt":1,"max_retries":1,"retry_delay_ms":562.199739477455,"error_status":null,"error":"unknown","session_id":"ae406edf-e3b4-47ac-a7b8-ba8a7d12914e","uuid":"6684bd58-e411-4f7c-9f0d-81c3943838d4"}';
    const report = claudeCodeAdapter.parse(`${retry}\n`, '', null);
    t.same(report.error, { kind: 'network', message: 'API error (unknown): claude was retrying when it stopped' });
  });

  t.test('killed while its request hangs: other, saying it was stopped, with model and session', async t => {
    const initOnly = transcript('hang').stdout.split('\n')[0] ?? '';
    const report = claudeCodeAdapter.parse(`${initOnly}\n`, '', null);
    t.same(report.error, { kind: 'other', message: 'claude was stopped by a signal without a result' });
    t.equal(report.model, 'claude-opus-4-8[1m]');
    t.equal(report.session_id, initSession(initOnly));
  });

  t.test('a truncated last line: the last assistant text, and tokens from the streamed messages', async t => {
    const { stdout } = transcript('success');
    const cut = stdout.slice(0, stdout.lastIndexOf('{"type":"result"') + 40);
    const report = claudeCodeAdapter.parse(cut, '', null);
    t.equal(report.final_message, SUCCESS_MESSAGE);
    t.same(report.tokens, { input: 3000, output: 600, total: 3600 });
    t.equal(report.cost_usd, undefined);
    t.equal(report.error?.kind, 'other');
  });

  t.test('noise before the JSON of a line is skipped', async t => {
    const { stdout, exitCode } = transcript('success');
    const noisy = stdout.split('\n').map(line => (line === '' ? line : `\u001b[0mwarn: x ${line}`)).join('\n');
    t.same(claudeCodeAdapter.parse(noisy, '', exitCode), parseRecorded('success'));
  });

  t.test('garbage and empty output never throw', async t => {
    t.same(claudeCodeAdapter.parse('', '', 0), { events: 0, error: { kind: 'other', message: 'claude exited with code 0 without a result' } });
    t.same(claudeCodeAdapter.parse('', 'Segmentation fault\n', 139), { events: 0, error: { kind: 'other', message: 'Segmentation fault' } });
    for (const garbage of ['{', 'null', '[]', '{"type":1}', '{"type":"result","modelUsage":[1],"usage":null,"errors":7}', '{"type":"assistant","message":{"content":[null,1,{"type":"text","text":5}]}}']) {
      t.doesNotThrow(() => claudeCodeAdapter.parse(garbage, garbage, 1), garbage);
    }
  });

  t.test('a subscription limit\'s rate_limit_event gives reset_at_ms (shape from the client\'s SDK schema)', async t => {
    // Not recordable with an API key: the client emits this event only for claude.ai subscriptions.
    const { stdout } = transcript('rate-limit-429');
    const event = JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: 1_796_188_429, rateLimitType: 'five_hour' }, uuid: 'u', session_id: 's' });
    const report = claudeCodeAdapter.parse(`${event}\n${stdout}`, '', 1);
    t.match(report.error, { kind: 'rate_limit', retry_after_s: 7, reset_at_ms: 1_796_188_429_000 });
  });
});

t.test('render', async t => {
  t.test('success: init, each Write with its path, short tool results, the text, the result with cost', async t => {
    const { stdout } = transcript('success');
    const lines = renderAll(stdout);
    const cwd = (JSON.parse(stdout.split('\n')[0] ?? '{}') as { cwd: string }).cwd;
    t.match(lines[0], { kind: 'info', text: /^claude 2\.1\.197 · claude-sonnet-4-5 · session / });
    t.same(lines[1], { kind: 'tool', text: `Write ${cwd}/src/hello.ts` });
    t.match(lines[2], { kind: 'tool', text: /^ {2}↳ File created successfully at: / });
    t.same(lines[3], { kind: 'tool', text: `Write ${cwd}/.isollm/runs/task-1/attempt-1/result.json` });
    t.same(lines.filter(line => line.kind === 'text').map(line => line.text), SUCCESS_MESSAGE.split('\n'));
    t.match(lines.at(-1), { kind: 'result', text: /^done · 3 turns · [\d.]+ s · \$0\.0180 · 3000 in \/ 600 out$/ });
    for (const line of lines) t.ok(line.text.length <= 200 || line.kind === 'text', `short: ${line.text.slice(0, 40)}`);
  });

  t.test('errors: the api_retry, the client\'s error message and the failed result', async t => {
    const lines = renderAll(transcript('rate-limit-429').stdout);
    t.same(lines.slice(1).map(line => line.kind), ['error', 'error', 'error']);
    t.equal(lines[1]?.text, 'API error 429, retrying in 7.0 s (1/1)');
    t.match(lines.at(-1)?.text, /^failed \(429\): API Error: Request rejected \(429\)/);
  });

  t.test('a Bash call shows its command, a refused tool its denial', async t => {
    const bash = JSON.stringify({ type: 'assistant', message: { model: 'm', content: [{ type: 'tool_use', id: 'x', name: 'Bash', input: { command: 'npm test\nnpm run lint' } }] } });
    t.same(claudeCodeAdapter.render(bash), [{ kind: 'tool', text: 'Bash npm test …' }]);
    const failedResult = JSON.stringify({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'x', is_error: true, content: [{ type: 'text', text: 'exit 1' }] }] } });
    t.same(claudeCodeAdapter.render(failedResult), [{ kind: 'error', text: '  ↳ error: exit 1' }]);
    const denied = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, num_turns: 2, permission_denials: [{ tool_name: 'Write', tool_input: { file_path: '/elsewhere/r.json' } }] });
    t.same(claudeCodeAdapter.render(denied), [{ kind: 'result', text: 'done · 2 turns' }, { kind: 'error', text: 'permission denied: Write /elsewhere/r.json' }]);
  });

  t.test('blank lines and unknown events render nothing; noise renders as info; nothing throws', async t => {
    t.same(claudeCodeAdapter.render(''), []);
    t.same(claudeCodeAdapter.render('{"type":"stream_event","event":{}}'), []);
    t.same(claudeCodeAdapter.render('not json'), [{ kind: 'info', text: 'not json' }]);
    for (const garbage of ['{', '{"type":"assistant"}', '{"type":"assistant","message":{"content":[null,1,{"type":"tool_use"}]}}', '{"type":"user","message":{"content":"x"}}', '{"type":"system","subtype":"api_retry"}']) {
      t.doesNotThrow(() => claudeCodeAdapter.render(garbage), garbage);
    }
  });
});
