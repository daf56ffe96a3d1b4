// A hand-written command that runs an agent client in a mode that prints nothing until it ends (the
// issue's `claude -p` whose 600 s stall timeout killed every honest run longer than it): no stall
// timeout applies, and `orch validate` says so with the flags that would stream. Proved with the real
// Claude Code against the stand-in, silent for longer than the stall timeout.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quietCommand } from '../../src/agents/index.js';
import type { OrchConfig, TaskRecord } from '../../src/generated/types.js';
import { startAnthropicStandIn } from '../fixtures/agent-api/anthropic.js';
import { CLIENT_BIN_DIR, LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';
import type { StandInReply } from '../fixtures/agent-api/stand-in.js';
import { runCli } from '../fixtures/run-cli.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

t.test('which commands print only at the end', async t => {
  t.match(quietCommand(['claude', '-p', 'do it']), { what: 'claude -p with --output-format text', streamWith: '--output-format stream-json --verbose' });
  t.match(quietCommand(['/usr/local/bin/claude', '--print', '--output-format=json', 'x']), { what: 'claude -p with --output-format json' });
  t.equal(quietCommand(['claude', '-p', '--output-format', 'stream-json', '--verbose', 'x']), undefined);
  t.equal(quietCommand(['claude']), undefined, 'interactive claude is no batch client');
  t.match(quietCommand(['gemini', '-o', 'json', '--prompt=x']), { what: 'gemini with --output-format json' });
  t.equal(quietCommand(['gemini', '--prompt=x']), undefined, 'gemini\'s text output streams');
  t.match(quietCommand(['aider', '--no-stream', '--message', 'x']), { what: 'aider --no-stream' });
  t.equal(quietCommand(['codex', 'exec', 'x']), undefined, 'codex exec prints its progress as it goes');
  t.equal(quietCommand(['npm', 'test']), undefined);
});

t.test('claude -p without stream-json, silent past the stall timeout, is not killed; orch validate says why', async t => {
  const dir = t.testdir({});
  const root = join(dir, 'project');
  for (const sub of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', sub), { recursive: true });
  const home = join(dir, 'claude-home');
  mkdirSync(home, { recursive: true });
  // The answer comes 3 s after the question: three times the stall timeout of silence on stdout.
  const standIn = await startAnthropicStandIn(t, () => new Promise<StandInReply>(resolve => setTimeout(() => resolve({ kind: 'text', text: 'Nothing needed changing.' }), 3000)), { home });
  const config: OrchConfig = {
    version: 1,
    project: 'quiet',
    workers: 1,
    workflows: { default: { implement: { command: ['claude', '-p', '{{prompt}}'] }, retry: { max_attempts: 1, stall_timeout_s: 1 } } },
  };
  writeFileSync(join(root, '.isollm', 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(root, '.isollm', 'tasks', 'Q.json'), JSON.stringify({ goal: 'Think quietly', steps: [{ id: 'S1', goal: 'think' }] }));
  const env = { ...standIn.env, PATH: `${CLIENT_BIN_DIR}:${process.env.PATH ?? ''}` };

  const validate = await runCli(['validate'], { cwd: root, env });
  t.equal(validate.code, 0, validate.stderr);
  t.match(validate.stdout + validate.stderr, /workflows\/default\/implement\/command.*claude -p with --output-format text prints nothing until it ends: stall_timeout_s \(1s\) does not apply to this phase.*add --output-format stream-json --verbose/s);

  const run = await runCli(['--once'], { cwd: root, env, timeoutMs: 120_000 });
  const record = JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', 'Q.json'), 'utf8')) as TaskRecord;
  t.equal(record.state, 'DONE', `orch exit ${run.code}\n${run.stderr.slice(-2000)}`);
  t.match(record.attempts[0], { reason: 'succeeded' }, `not stopped as stalled: ${JSON.stringify(record.attempts[0])}`);
  t.equal(standIn.requests.length, 1);
});
