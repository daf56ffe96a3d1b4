// The board in a real headless Chromium (Debian's chromium, driven by playwright-core): the one-time
// link gives the browser its session; a spec dropped on disk shows up as a card and moves to DONE; a
// task waiting at a gate is approved with the button and finishes; one sent back with a note gets the
// note as its feedback; a task made with the form runs.
// Screenshots of the board and of a task's page go to artifacts/ (ignored by git; CI may keep them).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { openBoard, screenshot, unexpected, WAIT } from '../fixtures/board-browser.js';
import { makeProject } from '../fixtures/project.js';
import { waitFor } from '../fixtures/wait-for.js';
import { dropSpec, startWatching, testRoot } from '../fixtures/watch-helpers.js';

const NOTED = "const f = process.env.ORCH_FEEDBACK_FILE; if (!f) { console.error('no hint'); process.exit(1); } console.log('told: ' + require('node:fs').readFileSync(f, 'utf8').trim());";

t.test('the board in Chromium: live cards, approve with the button, retry with a note, create with the form', async t => {
  const root = testRoot(t);
  const work: [string, ...string[]] = [process.execPath, '-e', "console.log('working on ' + process.env.ORCH_TASK_ID)"];
  makeProject(root, {
    workflow: { implement: { command: work }, retry: { max_attempts: 1 } },
    config: {
      workflows: {
        default: { implement: { command: work }, retry: { max_attempts: 1 } },
        gated: { implement: { command: work }, human_gate: ['implement'] },
        // Fails until a person sends it back with a note; then prints the note it was given.
        noted: { implement: { command: [process.execPath, '-e', NOTED] }, retry: { max_attempts: 1 }, on_exhausted: 'human' },
      },
    },
    tasks: { G: { goal: 'waits for a person', workflow: 'gated' }, R: { goal: 'needs a hint', workflow: 'noted' } },
  });
  await startWatching(t, root);
  let server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const { page, problems } = await openBoard(t, server);
  await page.waitForSelector('#review [data-task="G"]', WAIT);
  t.pass('the task waiting for a person is in the review queue');

  dropSpec(root, 'D', { goal: 'dropped on disk' });
  await page.waitForSelector('[data-column="DONE"] [data-task="D"]', WAIT);
  t.pass('a spec dropped on disk appeared as a card and moved to DONE, without a reload');
  await screenshot(page, 'board.png');

  await page.click('#review [data-task="G"]');
  await page.waitForSelector('#detail[data-task="G"]:not([hidden])', WAIT);
  t.match(await page.textContent('#detail-state'), /AWAITING_HUMAN — waiting for you \(gate\)/);
  await screenshot(page, 'task.png');
  await page.click('#decide button[data-action="approve"]');
  await page.waitForSelector('[data-column="DONE"] [data-task="G"]', WAIT);
  t.pass('approved with the button: it ran and finished');

  // Sent back with a note: the note reaches the agent as its feedback.
  await page.click('#review [data-task="R"]');
  await page.waitForSelector('#detail[data-task="R"]:not([hidden])', WAIT);
  await page.fill('#note', 'try the other door');
  await page.click('#decide button[data-action="retry"]');
  await page.waitForSelector('[data-column="DONE"] [data-task="R"]', WAIT);
  await page.click('[data-column="DONE"] [data-task="R"]');
  await page.waitForFunction(() => document.querySelector('#detail-output')?.textContent?.includes('told: try the other door') === true, undefined, WAIT);
  t.pass('retried with a note: the agent got it as feedback, and the task page shows what it said');

  await page.fill('#create-id', 'F');
  await page.fill('#create-goal', 'made in the browser');
  await page.click('#create button[type="submit"]');
  await page.waitForSelector('[data-column="DONE"] [data-task="F"]', WAIT);
  t.pass('a task made with the form ran');
  await page.click('[data-column="DONE"] [data-task="F"]');
  await page.waitForFunction(() => document.querySelector('#detail-output')?.textContent?.includes('working on F') === true, undefined, WAIT);
  t.pass('its page shows its output');

  // The server restarted (same port): the page reconnects on its own, its session still good, and
  // what happened while it was down is on the board.
  await server.close();
  await page.waitForSelector('#live[data-live="closed"]', WAIT);
  dropSpec(root, 'W', { goal: 'done while the server was down' });
  await waitFor('W to be DONE on disk', () => existsSync(join(root, '.isollm/state/tasks/W.json')) && readFileSync(join(root, '.isollm/state/tasks/W.json'), 'utf8').includes('"state": "DONE"'));
  server = await startServer(statePaths(root), { port: new URL(page.url()).port === '' ? 0 : Number(new URL(page.url()).port) });
  await page.waitForSelector('#live[data-live="open"]', WAIT);
  await page.waitForSelector('[data-column="DONE"] [data-task="W"]', WAIT);
  t.pass('after the restart the stream came back by itself and the board caught up');
  // The browser logs the refused reconnects while the server was down: those are expected.
  t.same(unexpected(problems), [], 'no script error and no refused request in the page');
});
