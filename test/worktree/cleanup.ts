// Worktrees after their task (PRODUCT.md §14, issue 14 item 6): a FAILED task keeps its worktree for
// worktree.keep_failed_h, then the next start removes it if nothing would be lost; `orch clean
// --worktrees` removes what no task needs and says what it keeps and why; `orch doctor` finds records
// that name a worktree that is gone. Real git, real runs, the built CLI.
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord, Workflow } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';
import { git, initRepo } from '../fixtures/git-repo.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));

/** Writes <task>.txt; fails when the task's goal says so. */
const AGENT: [string, ...string[]] = [
  process.execPath,
  '-e',
  `const fs = require('node:fs'); fs.writeFileSync(process.env.ORCH_TASK_ID + '.txt', 'x');
if (/fail/.test(JSON.parse(fs.readFileSync(process.env.ORCH_TASK_FILE, 'utf8')).goal)) { console.error('failing as asked'); process.exit(1); }`,
];

function repoProject(dir: string, tasks: Record<string, string>, workflow: Workflow = {}, keepFailedH?: number): string {
  const root = join(dir, 'repo');
  makeProject(root, {
    workflow: { implement: { command: AGENT }, retry: { max_attempts: 1 }, ...workflow },
    config: { workers: 2, worktree_root: join(dir, 'worktrees'), ...(keepFailedH !== undefined && { worktree: { keep_failed_h: keepFailedH } }) },
    tasks: Object.fromEntries(Object.entries(tasks).map(([id, goal]) => [id, { goal }])),
  });
  initRepo(root);
  return root;
}

function setKeepFailed(root: string, hours: number): void {
  const path = join(root, '.isollm/config.json');
  const config = JSON.parse(readFileSync(path, 'utf8'));
  config.worktree = { ...config.worktree, keep_failed_h: hours };
  writeFileSync(path, JSON.stringify(config));
}

t.test('a FAILED task keeps its worktree for keep_failed_h; past it, the next start removes it (the branch stays)', async t => {
  const root = repoProject(t.testdir(), { F: 'fail please' });
  await runOnce(root);
  const r = record(root, 'F');
  t.equal(r.state, 'FAILED');
  const path = r.worktree?.path ?? '';
  t.ok(existsSync(path), 'kept for a person to look at');
  // The failing attempt left F.txt uncommitted: the worktree is not clean, so it is never removed.
  const dirty = await runOnce(root);
  t.ok(existsSync(path), 'within 72 h (the default) the next start keeps it');
  t.notMatch(readFileSync(dirty.runLogPath, 'utf8'), /Removed the worktree of task F/);

  setKeepFailed(root, 0);
  await runOnce(root);
  t.ok(existsSync(path), 'past keep_failed_h but with changes not committed: kept, nothing is lost');
  const doctor = JSON.parse((await runCli(['doctor', '--json'], { cwd: root })).stdout) as { problems: { kind: string; path: string; message: string }[] };
  t.match(doctor.problems.find(p => p.path === path), { kind: 'leaked_worktree', message: /FAILED since .*: kept 0 h for a person to look at, and that time is over, with changes not committed/ });

  rmSync(join(path, 'F.txt'));
  const swept = await runOnce(root);
  t.notOk(existsSync(path), 'clean and past keep_failed_h: removed at the next start');
  t.match(readFileSync(swept.runLogPath, 'utf8'), /Removed the worktree of task F, FAILED since .* \(.*\): its branch stays/);
  t.equal(git(root, 'branch', '--list', 'orch/F'), 'orch/F', 'the branch stays');
});

t.test('orch clean --worktrees: removes what no task needs and loses nothing, lists what it keeps and why', async t => {
  const root = repoProject(t.testdir(), { A: 'work', B: 'work too', F: 'fail please' });
  await runOnce(root);
  const pathA = record(root, 'A').worktree?.path ?? '';
  const pathB = record(root, 'B').worktree?.path ?? '';
  const pathF = record(root, 'F').worktree?.path ?? '';
  // DONE worktrees are removed at once; make two as a crash would have left them: one clean, one with a change.
  git(root, 'worktree', 'add', '--quiet', pathA, 'orch/A');
  git(root, 'worktree', 'add', '--quiet', pathB, 'orch/B');
  writeFileSync(join(pathB, 'notes.txt'), 'not committed');

  const none = await runCli(['clean', '--worktrees'], { cwd: root });
  t.equal(none.code, 2, 'no terminal and no --yes: refused');
  t.match(none.stderr, /pass --yes/);
  t.ok(existsSync(pathA));

  const cleaned = await runCli(['clean', '--worktrees', '--yes', '--json'], { cwd: root });
  t.equal(cleaned.code, 0, cleaned.stderr);
  const out = JSON.parse(cleaned.stdout) as { removed: string[]; kept: { path: string; reason: string }[] };
  t.same(out.removed, [pathA], 'the clean DONE worktree is removed');
  t.match(out.kept, [{ path: pathB, reason: /which is DONE, with changes not committed/ }], 'the one with a change is kept, with the reason');
  t.notOk(existsSync(pathA));
  t.ok(existsSync(pathB));
  t.ok(existsSync(pathF), 'a FAILED task within keep_failed_h keeps its worktree: not even listed');
  t.equal(git(root, 'branch', '--list', 'orch/A'), 'orch/A', 'branches stay');
});

t.test('doctor: a record that names a worktree that is gone is a warning while the branch holds the work (the next attempt makes it again), an error once the branch is gone too', async t => {
  const root = repoProject(t.testdir(), { G: 'work', H: 'work' }, { code_review: { command: [process.execPath, '-e', "require('node:fs').writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ outcome: 'approved' }))"] }, human_gate: ['code_review'] });
  await runOnce(root);
  type Problems = { problems: { kind: string; severity: string; message: string; action: string; task?: string }[] };
  const missing = async (id: string) => (JSON.parse((await runCli(['doctor', '--json'], { cwd: root })).stdout) as Problems).problems.find(p => p.kind === 'missing_worktree' && p.message.includes(`task ${id} `));
  for (const id of ['G', 'H']) t.equal(record(root, id).state, 'AWAITING_HUMAN');
  const pathG = record(root, 'G').worktree?.path ?? '';
  const pathH = record(root, 'H').worktree?.path ?? '';
  rmSync(pathG, { recursive: true, force: true });
  rmSync(pathH, { recursive: true, force: true });
  t.match(await missing('G'), { severity: 'warning', action: /its next attempt makes it again from branch orch\/G/ });

  git(root, 'worktree', 'unlock', pathH);
  git(root, 'worktree', 'prune');
  git(root, 'branch', '-D', '--quiet', 'orch/H');
  t.match(await missing('H'), { severity: 'error', message: /its branch orch\/H with 1 checkpoint\(s\) is gone too/, action: /git reflog; the last checkpoint is [0-9a-f]{40}/ });

  // G goes on: its worktree is made again (locked worktrees are not pruned by git: orch unlocks the gone one first).
  const approved = await runCli(['approve', 'G'], { cwd: root });
  t.equal(approved.code, 0, approved.stderr);
  await runOnce(root);
  t.equal(record(root, 'G').state, 'DONE');
  t.equal(git(root, 'show', 'orch/G:G.txt'), 'x', 'its checkpoint is still on its branch');
  t.equal(await missing('G'), undefined);
});
