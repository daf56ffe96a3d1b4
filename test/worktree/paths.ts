// Conflicts avoided before they happen (PRODUCT.md §14, issue 14 item 8): a NEW task whose declared
// `paths` meet a started task's (its declared paths, or the files its checkpoints changed) does not
// start until that task has finished; `orch status` and the run log say why. Real git, real runs.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { makeProject, writeTask } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';
import { startWatching, testRoot } from '../fixtures/watch-helpers.js';
import { initRepo } from '../fixtures/git-repo.js';

const recordPath = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const record = (root: string, id: string): TaskRecord | undefined => (existsSync(recordPath(root, id)) ? JSON.parse(readFileSync(recordPath(root, id), 'utf8')) : undefined);
const started = (root: string, id: string): boolean => (record(root, id)?.attempts.length ?? 0) > 0;

/**
 * Each step writes the file named by the step's goal (`write <path>`), then waits for a file named
 * `go-<task>-<step>` in the test dir, if the goal says `then wait`.
 */
function agent(dir: string): [string, ...string[]] {
  return [
    process.execPath,
    '-e',
    `const fs = require('node:fs'); const path = require('node:path');
const goal = JSON.parse(fs.readFileSync(process.env.ORCH_TASK_FILE, 'utf8')).steps.find(s => s.id === process.env.ORCH_STEP_ID).goal;
const file = /write (\\S+)/.exec(goal)[1];
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, process.env.ORCH_TASK_ID + '\\n');
if (/then wait/.test(goal)) {
  const go = ${JSON.stringify(dir)} + '/go-' + process.env.ORCH_TASK_ID + '-' + process.env.ORCH_STEP_ID;
  const timer = setInterval(() => { if (fs.existsSync(go)) clearInterval(timer); }, 20);
}`,
  ];
}

function repoProject(dir: string): string {
  const root = join(dir, 'repo');
  makeProject(root, {
    workflow: { implement: { command: agent(dir) }, retry: { max_attempts: 1 } },
    config: { workers: 4, worktree_root: join(dir, 'worktrees') },
  });
  initRepo(root);
  return root;
}

t.test('a NEW task whose declared paths meet a started task\'s waits for it; one whose paths do not, runs at once', async t => {
  const dir = testRoot(t);
  const root = repoProject(dir);
  writeTask(root, 'A', { goal: 'auth', paths: ['src/auth/**'], steps: [{ id: 'S1', goal: 'write src/auth/login.ts then wait' }] });
  const orch = await startWatching(t, root);
  await waitFor('A to be running', () => started(root, 'A'));
  writeTask(root, 'B', { goal: 'login', paths: ['src/auth/login.ts'], steps: [{ id: 'S1', goal: 'write src/auth/login.ts' }] });
  writeTask(root, 'C', { goal: 'docs', paths: ['docs/*.md'], steps: [{ id: 'S1', goal: 'write docs/auth.md' }] });
  await waitFor('C, whose paths meet nobody\'s, to be DONE', () => record(root, 'C')?.state === 'DONE');
  t.notOk(started(root, 'B'), 'B has not started while A works on its paths');
  const status = JSON.parse((await runCli(['status', '--json'], { cwd: root })).stdout) as { tasks: { id: string; waiting_for: string | null }[] };
  t.equal(status.tasks.find(task => task.id === 'B')?.waiting_for, 'task A: their paths overlap (src/auth/login.ts ~ src/auth/**)', 'orch status says for which task, and where');

  writeFileSync(join(dir, 'go-A-S1'), '');
  await waitFor('A and B to be DONE', () => ['A', 'B'].every(id => record(root, id)?.state === 'DONE'));
  orch.stop('test over');
  await orch.done;
  const aEnded = Date.parse(record(root, 'A')?.history.find(h => h.to === 'DONE')?.at ?? '');
  const bStarted = Date.parse(record(root, 'B')?.attempts[0]?.started_at ?? '');
  t.ok(bStarted >= aEnded, 'B started only once A was DONE');
  t.match(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /Task B waits for task A: their paths overlap \(src\/auth\/login\.ts ~ src\/auth\/\*\*\)/);
});

t.test('after a task\'s first checkpoint, the files it changed count: a task declaring them waits even though the first declared nothing', async t => {
  const dir = testRoot(t);
  const root = repoProject(dir);
  writeTask(root, 'D', { goal: 'lib', steps: [{ id: 'S1', goal: 'write lib/x.ts' }, { id: 'S2', goal: 'write notes/d.txt then wait' }] });
  const orch = await startWatching(t, root);
  await waitFor('D\'s first checkpoint, and its second step running', () => record(root, 'D')?.attempts.some(a => a.step_id === 'S2'));
  writeTask(root, 'E', { goal: 'lib too', paths: ['lib/**'], steps: [{ id: 'S1', goal: 'write lib/y.ts' }] });
  writeTask(root, 'F', { goal: 'elsewhere', paths: ['app/**'], steps: [{ id: 'S1', goal: 'write app/z.ts' }] });
  await waitFor('F to be DONE', () => record(root, 'F')?.state === 'DONE');
  t.notOk(started(root, 'E'), 'E waits: D changed lib/x.ts');
  writeFileSync(join(dir, 'go-D-S2'), '');
  await waitFor('D and E to be DONE', () => ['D', 'E'].every(id => record(root, id)?.state === 'DONE'));
  orch.stop('test over');
  await orch.done;
  t.match(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /Task E waits for task D: their paths overlap \(lib\/\*\* ~ lib\/x\.ts\)/);
});
