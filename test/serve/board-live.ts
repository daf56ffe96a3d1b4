// The board's task page shows a real agent's work as it happens: the real Claude Code, driven by orch
// against the Anthropic stand-in, is held mid-run (its next answer waits for the test) while Chromium
// shows the file-writing tool call it made, rendered; the server restarts in the middle and the page
// carries on with nothing shown twice and nothing missed; then the result line with its cost.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchConfig, TaskRecord } from '../../src/generated/types.js';
import { startServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { startAnthropicStandIn } from '../fixtures/agent-api/anthropic.js';
import { CLIENT_BIN_DIR, LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';
import type { StandInReply } from '../fixtures/agent-api/stand-in.js';
import { openBoard, screenshot, unexpected, WAIT } from '../fixtures/board-browser.js';
import { runCli } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';
import { testRoot } from '../fixtures/watch-helpers.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

t.test('a running agent\'s output, live on its task page, across a server restart', async t => {
  const dir = testRoot(t); // the folder goes last, after the server and the browser are closed
  const root = join(dir, 'project');
  for (const sub of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', sub), { recursive: true });
  // The agent's second turn waits for the test: the page is looked at while the client is mid-run.
  let release = (): void => undefined;
  const released = new Promise<StandInReply>(resolve => (release = () => resolve({ kind: 'text', text: 'Wrote live.txt, as asked.' })));
  const home = join(dir, 'claude-home');
  mkdirSync(home, { recursive: true });
  const standIn = await startAnthropicStandIn(t, request => (request.toolResults === 0 ? { kind: 'write_file', path: join(root, 'live.txt'), content: 'hello\n' } : released), { home });
  const config: OrchConfig = {
    version: 1,
    project: 'board-live',
    workers: 1,
    workflows: { default: { implement: { provider: 'claude_code' }, retry: { strategy: 'fixed', base_delay_s: 0.05, max_delay_s: 0.1, jitter: 0, max_attempts: 1 } } },
  };
  writeFileSync(join(root, '.isollm', 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(root, '.isollm', 'tasks', 'L.json'), JSON.stringify({ goal: 'Write live.txt', steps: [{ id: 'S1', goal: 'write the file' }] }));
  // The client's own request timeout: long enough for the page to be looked at while its answer is held.
  const run = runCli(['--once'], { cwd: root, env: { ...standIn.env, API_TIMEOUT_MS: '120000', PATH: `${CLIENT_BIN_DIR}:${process.env.PATH ?? ''}` }, timeoutMs: 300_000 });
  t.teardown(() => release()); // a failed test must not leave the client (and orch) waiting

  let server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const { page, problems } = await openBoard(t, server);
  await page.click('[data-task="L"]', WAIT);
  await page.waitForSelector('#detail[data-task="L"]:not([hidden])', WAIT);
  const tool = await page.waitForSelector('#detail-output .out-tool:not(.out-sub)', WAIT);
  t.match(await tool.textContent(), /live\.txt/, 'the client\'s file-writing tool call, rendered with the file it writes, while the client still runs');
  t.match(await page.textContent('#detail-output-title'), /Output of attempt 1 \(implement S1\), live/);
  // Its second turn may reach the stand-in a moment after the tool call's line: it cannot end before release().
  await waitFor('the client to ask for its second turn, held', () => standIn.requests.length === 2);
  t.pass('the page showed the tool call while the client waits on its held second turn');
  await screenshot(page, 'task-live.png');
  const before = await page.$$eval('#detail-output .out', nodes => nodes.map(node => node.textContent));

  // The server goes away and comes back on the same port; meanwhile the client finishes.
  const port = server.port;
  await server.close();
  await page.waitForSelector('#live[data-live="closed"]', WAIT);
  release();
  const cli = await run;
  t.equal(cli.code, 0, `orch --once ended\n${cli.stderr.slice(-2000)}`);
  server = await startServer(statePaths(root), { port });
  await page.waitForSelector('#live[data-live="open"]', WAIT);
  await page.waitForSelector('#detail-output .out-result', WAIT);
  const after = await page.$$eval('#detail-output .out', nodes => nodes.map(node => node.textContent));
  t.same(after.slice(0, before.length), before, 'what was shown before the restart is still there, in order');
  t.equal(new Set(after).size, after.length, `no line shown twice after the reconnect:\n${after.join('\n')}`);
  t.ok(after.some(line => line?.includes('Wrote live.txt, as asked.')), 'the client\'s last words, sent while the server was down, arrived');
  const record = JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', 'L.json'), 'utf8')) as TaskRecord;
  t.equal(record.state, 'DONE');
  const cost = record.attempts[0]?.cost_usd ?? 0;
  t.ok(cost > 0, 'the client reported a cost');
  t.match(await page.textContent('#detail-output .out-result'), /\$/, 'the result line shows the cost');
  t.equal(readFileSync(join(root, 'live.txt'), 'utf8'), 'hello\n');
  t.same(unexpected(problems), [], 'no script error in the page');
});
