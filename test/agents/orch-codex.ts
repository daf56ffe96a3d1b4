// The real Codex CLI, driven by `orch --once` through its adapter against the OpenAI Responses
// stand-in: the whole matrix of test/fixtures/agent-e2e.ts in one run.
import t from 'tap';
import { startOpenAiStandIn } from '../fixtures/agent-api/openai.js';
import { checkMatrix, checkWorktreeRun, runInWorktree, runMatrix, type ClientUnderTest } from '../fixtures/agent-e2e.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

const client: ClientUnderTest = {
  provider: 'codex',
  start: startOpenAiStandIn,
  models: { base: 'gpt-5.5', routed: 'gpt-5.5-pro' },
  showsRetryAfter: false,
  reportsCost: false,
  clientRetries: 0,
};

t.test('codex through orch, end to end', async t => {
  const run = await runMatrix(t, client);
  checkMatrix(t, client, run);
});

t.test('codex in a git repository: it works in the task\'s own worktree, its edit is checkpointed on the branch, the checkout untouched', async t => {
  checkWorktreeRun(t, await runInWorktree(t, client));
});
