// The board's timeline and cost charts in a real headless Chromium (Debian's chromium, driven by
// playwright-core, never skipped): a live run with a retried task, a failed one, one waiting for a
// person and one on another model; a row per task with bars whose outcome can be read off them, the
// waits drawn, cost bars per task and per model, and a redraw when the board says its data changed.
// Screenshots go to artifacts/timeline.png and artifacts/costs.png.
import t from 'tap';
import { join } from 'node:path';
import { decide } from '../../src/runtime/decide.js';
import { startServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { ARTIFACTS, openBoard, WAIT } from '../fixtures/board-browser.js';
import { insightProject } from '../fixtures/insight-project.js';
import { startWatching, testRoot, untilRecord } from '../fixtures/watch-helpers.js';

t.test('the timeline and the cost charts in Chromium: bars by outcome, waits, costs per task and per model, redrawn on change', async t => {
  const root = insightProject(testRoot(t), { retryDelayS: 0.5 });
  await startWatching(t, root);
  await untilRecord(root, 'R', 'DONE after a retry', r => r.state === 'DONE');
  await untilRecord(root, 'F', 'FAILED', r => r.state === 'FAILED');
  await untilRecord(root, 'G', 'waiting at its gate', r => r.state === 'AWAITING_HUMAN');
  await untilRecord(root, 'M', 'DONE', r => r.state === 'DONE');
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const { page, problems } = await openBoard(t, server);

  const row = (id: string): string => `#insights g.row[data-task="${id}"]`;
  await page.waitForSelector(`${row('R')} rect.bar[data-outcome="retried"]`, WAIT).catch((error: Error) => {
    throw new Error(`${error.message}\npage problems: ${problems.join(' / ')}`);
  });
  t.equal(await page.locator('#insights g.row').count(), 4, 'a row per task of the run');
  t.same(await page.locator(`${row('R')} rect.bar`).evaluateAll(bars => bars.map(bar => bar.getAttribute('data-outcome'))), ['retried', 'ok'], 'R: a retried bar, then an ok one');
  t.equal(await page.locator(`${row('R')} rect.wait[data-kind="backoff"]`).count(), 1, 'R: its backoff drawn between them');
  t.equal(await page.locator(`${row('F')} rect.bar[data-outcome="failed"]`).count(), 1, 'F: a failed bar');
  t.equal(await page.locator(`${row('G')} rect.wait[data-kind="human"]`).count(), 1, 'G: the wait for a person');
  t.match(await page.locator(`${row('M')} rect.bar title`).textContent(), /implement S1 · attempt 1 · ok \(succeeded, exit 0\) · [\d.]+s · \$0\.25 · 1,500 tokens · other\/other-model/, 'a bar says what it was in its tooltip');
  t.match(await page.textContent('#insights .insights-caption'), /\(live\) · tasks 1–4 of 4/);
  await page.locator('#insights').screenshot({ path: join(ARTIFACTS, 'timeline.png') });

  await page.click('#insights button[data-view="costs"]');
  await page.waitForSelector('#insights figure[data-chart="model"] rect.cost-bar[data-key="other/other-model"]', WAIT);
  t.same(await page.locator('#insights figure[data-chart="task"] rect.cost-bar').evaluateAll(bars => bars.map(bar => bar.getAttribute('data-key'))), ['M', 'R', 'F', 'G'], 'a bar per task, costliest first');
  t.same(await page.locator('#insights figure[data-chart="model"] rect.cost-bar').evaluateAll(bars => bars.map(bar => bar.getAttribute('data-key'))), ['other/other-model', 'stub/stub-model'], 'a bar per model');
  const width = (key: string): Promise<number> => page.locator(`#insights figure[data-chart="task"] rect.cost-bar[data-key="${key}"]`).evaluate(bar => Number(bar.getAttribute('width')));
  t.ok((await width('M')) > 20 * (await width('R')), 'bars as long as what they cost ($0.25 against $0.01)');
  await page.locator('#insights').screenshot({ path: join(ARTIFACTS, 'costs.png') });

  // G approved: the run goes on, the board redraws, and the timeline (shown again) follows.
  await page.click('#insights button[data-view="timeline"]');
  await page.waitForSelector(row('G'), WAIT);
  await decide(statePaths(root), { taskId: 'G', action: 'approve' });
  await page.waitForSelector(`${row('G')} rect.bar[data-outcome="ok"]`, WAIT);
  t.equal(await page.locator(`${row('G')} rect.wait[data-kind="human"]`).count(), 1, 'its wait for a person stays, now closed');
  t.same(problems, [], 'no script error and no refused request (CSP) in the page');
});
