// The real Claude Code, driven by `orch --once` through its adapter against the Anthropic stand-in: the
// whole matrix of test/fixtures/agent-e2e.ts in one run.
import t from 'tap';
import { startAnthropicStandIn } from '../fixtures/agent-api/anthropic.js';
import { checkMatrix, checkWorktreeRun, runInWorktree, runMatrix, type ClientUnderTest } from '../fixtures/agent-e2e.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

const client: ClientUnderTest = {
  provider: 'claude_code',
  start: startAnthropicStandIn,
  models: { base: 'claude-sonnet-4-5', routed: 'claude-opus-4-1' },
  reportsRoutedAs: 'claude-opus-4-8',
  showsRetryAfter: true,
  reportsCost: true,
  clientRetries: 1,
  // orch's own default (CLAUDE_CODE_MAX_RETRIES=1) is what runs, not the stand-in's 0.
  dropEnv: ['CLAUDE_CODE_MAX_RETRIES'],
};

t.test('claude_code through orch, end to end', async t => {
  const run = await runMatrix(t, client);
  checkMatrix(t, client, run);
});

t.test('claude_code in a git repository: it works in the task\'s own worktree, its edit is checkpointed on the branch, the checkout untouched', async t => {
  checkWorktreeRun(t, await runInWorktree(t, client));
});
