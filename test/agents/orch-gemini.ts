// The real Gemini CLI, driven by `orch --once` through its adapter against the Gemini API stand-in:
// the whole matrix of test/fixtures/agent-e2e.ts in one run.
import t from 'tap';
import { startGeminiStandIn } from '../fixtures/agent-api/gemini.js';
import { checkMatrix, checkWorktreeRun, runInWorktree, runMatrix, type ClientUnderTest } from '../fixtures/agent-e2e.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

const client: ClientUnderTest = {
  provider: 'gemini',
  start: startGeminiStandIn,
  models: { base: 'gemini-2.5-flash', routed: 'gemini-2.5-pro' },
  showsRetryAfter: true,
  reportsCost: false,
  clientRetries: 0,
};

t.test('gemini through orch, end to end', async t => {
  const run = await runMatrix(t, client);
  checkMatrix(t, client, run);
});

t.test('gemini in a git repository: it works in the task\'s own worktree, its edit is checkpointed on the branch, the checkout untouched', async t => {
  checkWorktreeRun(t, await runInWorktree(t, client));
});
