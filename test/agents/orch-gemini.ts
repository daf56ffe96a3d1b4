// The real Gemini CLI, driven by `orch --once` through its adapter against the Gemini API stand-in:
// the whole matrix of test/fixtures/agent-e2e.ts in one run.
import t from 'tap';
import { startGeminiStandIn } from '../fixtures/agent-api/gemini.js';
import { checkMatrix, checkWorktreeRun, runInWorktree, runMatrix, type ClientUnderTest } from '../fixtures/agent-e2e.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);
// The two orch runs below side by side: the matrix ends with one task (the full workflow, one client at a
// time) and leaves a core free that the worktree run can use. Each has its own testdir and client home.
t.jobs = 2;

const client: ClientUnderTest = {
  provider: 'gemini',
  // Without its relaunch: one node process per phase instead of two (specs/agents/gemini.md, "Start-up
  // cost"). gemini-live.ts keeps the relaunch where it matters, for how the client ends on SIGTERM.
  start: (t, respond, options) => startGeminiStandIn(t, respond, { ...options, relaunch: false }),
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
