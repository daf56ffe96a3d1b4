import t from 'tap';
import { aiderAdapter } from '../../src/agents/aider.js';

// Aider cannot be installed here (no Python packages): this is its documented output, not a recording.
const SESSION = `Aider v0.86.1
Main model: anthropic/claude-sonnet-4-5 with diff edit format, infinite output
Git repo: none
I will add the flag.

Applied edit to src/cli.ts
Tokens: 2.3k sent, 150 received. Cost: $0.0091 message, $0.0091 session.
Done: the flag is in.
\`\`\`json
{"outcome": "done"}
\`\`\`
Tokens: 1.1k sent, 40 received. Cost: $0.0040 message, $0.0131 session.
`;

t.test('aider: model from the banner, tokens summed over its messages, the session cost, the reply', async t => {
  const report = aiderAdapter.parse(SESSION, '', 0);
  t.equal(report.model, 'anthropic/claude-sonnet-4-5');
  t.same(report.tokens, { input: 3400, output: 190, total: 3590 });
  t.equal(report.cost_usd, 0.0131);
  t.match(report.final_message, /```json\n\{"outcome": "done"\}\n```$/);
  t.equal(report.error, undefined);
});

t.test("aider: litellm's exception names say the error's class; argparse's error is usage", async t => {
  t.match(aiderAdapter.parse('litellm.AuthenticationError: AnthropicException - invalid x-api-key', '', 1).error, { kind: 'auth' });
  t.match(aiderAdapter.parse('litellm.RateLimitError: rate limited', '', 1).error, { kind: 'rate_limit' });
  t.match(aiderAdapter.parse('litellm.InternalServerError: boom', '', 1).error, { kind: 'server' });
  t.match(aiderAdapter.parse('litellm.APIConnectionError: refused', '', 1).error, { kind: 'network' });
  t.match(aiderAdapter.parse('', 'aider: error: unrecognized arguments: --bogus', 2).error, { kind: 'usage', message: /unrecognized arguments: --bogus/ });
  t.same(aiderAdapter.parse('', '', 0), {}, 'nothing printed: nothing known');
});

t.test('aider: argv puts the model and extra args before --message and the prompt', async t => {
  const argv = aiderAdapter.argv({ phase: 'implement', prompt: '-p looks like a flag', model: 'gpt-4o', resultFile: '/r', artifactsDir: '/a', cwd: '/c', decides: false, extraArgs: ['--map-tokens', '0'] });
  t.same(argv.slice(-6), ['--model', 'gpt-4o', '--map-tokens', '0', '--message', '-p looks like a flag']);
  t.equal(argv[0], 'aider');
  t.same(aiderAdapter.render('Applied edit to src/a.ts'), [{ kind: 'tool', text: 'Applied edit to src/a.ts' }]);
});
