// One git worktree per task (PRODUCT.md §14, issue 14): real git, a real repository made in the test,
// real runs of the orchestrator. Tasks that edit the same file at once each keep their edit on their
// own branch, checkpointed; the person's checkout (files, index, HEAD, a dirty edit) is never written.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { doctorProject } from '../../src/project/doctor.js';
import { decide } from '../../src/runtime/decide.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { statePaths } from '../../src/store/paths.js';
import { ensureWorktree, removeWorktreeIfClean } from '../../src/worktree/task-worktree.js';
import { makeProject } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';
import { PERSON, checkoutState, git, initRepo } from '../fixtures/git-repo.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));
const recordOrUndefined = (root: string, id: string): TaskRecord | undefined => (existsSync(join(root, '.isollm/state/tasks', `${id}.json`)) ? record(root, id) : undefined);

/** Appends a line naming the task to shared.txt, and writes <id>.txt with the worktree and base it was told of. */
const EDIT: [string, ...string[]] = [
  process.execPath,
  '-e',
  "const fs = require('node:fs'); fs.appendFileSync('shared.txt', 'edit by ' + process.env.ORCH_TASK_ID + '\\n'); fs.writeFileSync(process.env.ORCH_TASK_ID + '.txt', JSON.stringify({ cwd: process.cwd(), worktree: process.env.ORCH_WORKTREE, base: process.env.ORCH_BASE_SHA }));",
];

/** A repository with one commit, the state dir ignored, and a project whose one phase runs EDIT. */
function repoProject(dir: string, ids: string[]): { root: string; worktrees: string; base: string } {
  const root = join(dir, 'repo');
  const worktrees = join(dir, 'worktrees');
  makeProject(root, {
    workflow: { implement: { command: EDIT }, retry: { max_attempts: 1 } },
    config: { workers: Math.min(ids.length, 4), worktree_root: worktrees },
    tasks: Object.fromEntries(ids.map(id => [id, { goal: `edit as ${id}` }])),
  });
  return { root, worktrees, base: initRepo(root, { 'shared.txt': 'line 1\n' }) };
}


t.test('eight tasks edit the same file at once: each edit is on its own branch, checkpointed, and the person\'s dirty checkout is untouched', async t => {
  const ids = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
  const { root, worktrees, base } = repoProject(t.testdir(), ids);
  writeFileSync(join(root, 'shared.txt'), 'line 1\nthe person\'s own edit, not committed\n');
  const before = checkoutState(root);

  const result = await runOnce(root);
  t.same(result.done.sort(), ids);
  for (const id of ids) {
    const r = record(root, id);
    t.match(r.worktree, { branch: `orch/${id}`, base_sha: base }, `${id}: branch and base recorded`);
    const path = r.worktree?.path ?? '';
    t.ok(path.startsWith(`${worktrees}/`), `${id}: its worktree is outside the repository`);
    const told = JSON.parse(git(root, 'show', `orch/${id}:${id}.txt`)) as { cwd: string; worktree: string; base: string };
    t.same(told, { cwd: path, worktree: path, base }, `${id}: ran in its worktree, and was told so`);
    t.equal(git(root, 'show', `orch/${id}:shared.txt`), `line 1\nedit by ${id}`, `${id}: its edit alone, from the committed base (not the person's dirty edit)`);
    t.equal(r.attempts.at(-1)?.checkpoint, git(root, 'rev-parse', `orch/${id}`), `${id}: the checkpoint is the branch's tip`);
    t.equal(git(root, 'rev-list', '--count', `${base}..orch/${id}`), '1');
  }
  t.equal(checkoutState(root), before, 'the person\'s files, index, HEAD and status are as they were');
  const log = readFileSync(result.runLogPath, 'utf8');
  t.match(log, /Isolation of workflow default: worktree \(the project is a git repository\)/);
  t.match(log, /The checkout has uncommitted changes: they are not in the tasks' base/);
  t.match(log, new RegExp(`Checkpoint ${record(root, 'A').attempts.at(-1)?.checkpoint?.slice(0, 12)} on orch/A \\(task=A, step S1, attempt 1\\)`));
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'line 1\nthe person\'s own edit, not committed\n');
  const shown = await runCli(['show', 'A'], { cwd: root });
  t.match(shown.stdout, new RegExp(`worktree: ${record(root, 'A').worktree?.path} · branch orch/A · base ${base.slice(0, 12)} · last checkpoint [0-9a-f]{12}`));
  t.match(shown.stdout, new RegExp(`COMMIT[\\s\\S]*implement\\s+S1\\s+succeeded[\\s\\S]*${record(root, 'A').attempts.at(-1)?.checkpoint?.slice(0, 12)}`), 'each attempt names the checkpoint it made');
  t.match(JSON.parse((await runCli(['show', 'A', '--json', '--fields', 'worktree'], { cwd: root })).stdout), { worktree: { branch: 'orch/A', base_sha: base } });
});

t.test('DONE: the clean worktree is removed, the branch kept; orch merge takes it into a clean checkout only, and a conflict leaves the checkout as it was', async t => {
  const { root, base } = repoProject(t.testdir(), ['A', 'B']);
  const result = await runOnce(root);
  t.same(result.done.sort(), ['A', 'B']);
  for (const id of ['A', 'B']) {
    t.notOk(existsSync(record(root, id).worktree?.path ?? ''), `${id}: its worktree is removed`);
    t.equal(git(root, 'rev-list', '--count', `${base}..orch/${id}`), '1', `${id}: its branch keeps the work`);
  }
  t.match(readFileSync(result.runLogPath, 'utf8'), /Worktree of task A removed: its work is on branch orch\/A \(`orch merge A` takes it/);
  t.notMatch(git(root, 'worktree', 'list'), /orch\//, 'git lists no worktree of a task');

  writeFileSync(join(root, 'shared.txt'), 'line 1\nnot committed\n');
  const refused = await runCli(['merge', 'A'], { cwd: root, env: PERSON });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /has changes not committed .*: orch\/A is merged only into a clean checkout/);
  t.equal(git(root, 'rev-parse', 'HEAD'), base, 'nothing merged into a dirty checkout');
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'line 1\nnot committed\n');
  git(root, 'checkout', '--', 'shared.txt');

  const merged = await runCli(['merge', 'A'], { cwd: root, env: PERSON });
  t.equal(merged.code, 0, merged.stderr);
  t.match(merged.stdout, /merged orch\/A into main/);
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'line 1\nedit by A\n');
  const head = git(root, 'rev-parse', 'HEAD');

  const conflict = await runCli(['merge', 'B', '--json'], { cwd: root, env: PERSON });
  t.equal(conflict.code, 1);
  t.same(JSON.parse(conflict.stdout), { kind: 'conflict', branch: 'orch/B', into: 'main', files: ['shared.txt'] });
  t.equal(git(root, 'rev-parse', 'HEAD'), head, 'the conflicting merge was aborted');
  t.equal(git(root, 'status', '--porcelain', '--untracked-files=no'), '', 'and the checkout is clean again');
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'line 1\nedit by A\n');
});

t.test('kill -9 of orch while a task works in its worktree, then --resume: the worktree is adopted, the half edit undone, no worktree leaked, git fsck clean', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['K']);
  const go = join(dir, 'go');
  // Each attempt appends a line naming it, then waits until \`go\` exists.
  const script = `const fs = require('node:fs');
fs.appendFileSync('shared.txt', 'attempt ' + process.env.ORCH_ATTEMPT + '\\n');
const wait = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) clearInterval(wait); }, 20);`;
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'),
    workflows: { default: { implement: { command: [process.execPath, '-e', script] }, retry: { max_attempts: 3, base_delay_s: 0.01, jitter: 0 } } },
  }));
  const first = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: 'ignore' });
  t.teardown(() => first.kill('SIGKILL'));
  const worktree = join(dir, 'worktrees');
  await waitFor('the first attempt to have half edited its worktree', () => {
    const r = recordOrUndefined(root, 'K');
    const path = r?.worktree?.path;
    return r?.attempts.at(-1)?.process !== undefined && path !== undefined && existsSync(join(path, 'shared.txt')) && readFileSync(join(path, 'shared.txt'), 'utf8').includes('attempt 1');
  });
  first.kill('SIGKILL');
  await new Promise(resolve => first.once('exit', resolve));
  writeFileSync(go, '');

  const resumed = await runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  const r = record(root, 'K');
  t.equal(r.state, 'DONE');
  t.same(r.attempts.map(a => a.reason), ['interrupted', 'succeeded']);
  // An interruption spends no attempt: the second run is attempt 1 again. One line, not two: the
  // interrupted run's half edit was undone before it.
  t.equal(git(root, 'show', 'orch/K:shared.txt'), 'line 1\nattempt 1', 'the interrupted attempt\'s half edit is not in the branch');
  t.notMatch(git(root, 'worktree', 'list'), /orch\//, 'no worktree left registered');
  t.same(existsSync(join(worktree)) ? readdirSync(join(worktree, readdirSync(worktree)[0] ?? '')) : [], [], 'nor on disk');
  git(root, 'fsck', '--no-progress');
});

t.test('the code reviewer gets the branch as a diff against the base: {{diff_file}}, {{diff}} and its prompt', async t => {
  const dir = t.testdir();
  const { root, base } = repoProject(dir, ['V']);
  // The reviewer prints the diff file it was given and the {{diff}} text, then approves.
  const review = [process.execPath, '-e', "const fs = require('node:fs'); process.stdout.write(JSON.stringify({ file: fs.readFileSync(process.argv[1], 'utf8'), text: process.argv[2] })); fs.writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ outcome: 'approved' }));", '{{diff_file}}', '{{diff}}'];
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'),
    workflows: { default: { implement: { command: EDIT }, code_review: { command: review }, retry: { max_attempts: 1 } } },
  }));
  t.same((await runOnce(root)).done, ['V']);
  const reviewed = record(root, 'V').attempts.find(a => a.phase === 'code_review');
  const seen = JSON.parse(readFileSync(join(root, '.isollm', reviewed?.artifacts_dir ?? '', 'stdout.log'), 'utf8')) as { file: string; text: string };
  const expected = `${git(root, 'diff', base, 'orch/V')}\n`;
  t.equal(seen.file, expected, 'the diff file is the branch against its base');
  t.equal(seen.text, expected, '{{diff}} is the same text');
  t.match(seen.text, /\+edit by V/);
});

t.test('doctor finds worktrees no task needs and folders git does not know; --fix removes only what loses nothing', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['A']);
  t.same((await runOnce(root)).done, ['A']);
  const folder = dirname(record(root, 'A').worktree?.path ?? '');
  git(root, 'worktree', 'add', '--quiet', '-b', 'orch/GHOST', join(folder, 'GHOST'));
  git(root, 'worktree', 'add', '--quiet', '-b', 'orch/DIRTY', join(folder, 'DIRTY'));
  writeFileSync(join(folder, 'DIRTY', 'unsaved.txt'), 'work');
  mkdirSync(join(folder, 'STRAY'));
  writeFileSync(join(folder, 'STRAY', 'x'), '');
  git(root, 'worktree', 'add', '--quiet', join(dir, 'mine'), '-b', 'my-own-branch'); // the person's: not orch's business

  const report = await doctorProject(statePaths(root));
  const found = report.problems.filter(p => p.kind === 'leaked_worktree');
  t.match(found.sort((a, b) => a.path.localeCompare(b.path)), [
    { path: join(folder, 'DIRTY'), task: 'DIRTY', severity: 'error', fixable: false, message: /no record any more, with changes not committed/ },
    { path: join(folder, 'GHOST'), task: 'GHOST', severity: 'error', fixable: true, message: /the worktree of task GHOST, which has no record any more$/ },
    { path: join(folder, 'STRAY'), task: 'STRAY', severity: 'error', fixable: false, message: /git does not know as a worktree/ },
  ]);
  const fixed = await doctorProject(statePaths(root), { fix: true });
  t.match(fixed.problems.filter(p => p.kind === 'leaked_worktree' && p.fixed).map(p => p.task), ['GHOST']);
  t.notOk(existsSync(join(folder, 'GHOST')));
  t.ok(git(root, 'rev-parse', 'orch/GHOST'), 'its branch stays');
  t.ok(existsSync(join(folder, 'DIRTY', 'unsaved.txt')), 'a worktree with changes is never removed');
  t.ok(existsSync(join(folder, 'STRAY', 'x')), 'nor a folder git does not know');
  t.ok(existsSync(join(dir, 'mine')));
});

t.test('a worktree with changes is never removed: kept, and locked again', async t => {
  const dir = t.testdir();
  const { root, base } = repoProject(dir, []);
  const plan = { path: join(dir, 'worktrees', 'W'), branch: 'orch/W', base_sha: base };
  await ensureWorktree(root, plan);
  writeFileSync(join(plan.path, 'unsaved.txt'), 'work');
  t.equal(await removeWorktreeIfClean(root, plan), false);
  t.ok(existsSync(join(plan.path, 'unsaved.txt')));
  t.match(git(root, 'worktree', 'list', '--porcelain'), new RegExp(`worktree ${plan.path}\\n[^]*?locked`), 'locked again');
  rmSync(join(plan.path, 'unsaved.txt'));
  t.equal(await removeWorktreeIfClean(root, plan), true);
  t.notOk(existsSync(plan.path));
});

t.test('worktree setup: .env copied, node_modules linked, the setup command run once; none of it committed, and the originals untouched when the worktree goes', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['S']);
  writeFileSync(join(root, '.gitignore'), '.isollm/\nORCHESTRATOR_RUN_LOG.md\n.env\nnode_modules/\n');
  git(root, 'commit', '--quiet', '-am', 'ignore env and deps');
  writeFileSync(join(root, '.env'), 'SECRET=1\n');
  mkdirSync(join(root, 'node_modules/dep'), { recursive: true });
  writeFileSync(join(root, 'node_modules/dep/index.js'), 'module.exports = 42;\n');
  const setups = join(dir, 'setups.log');
  const marker = join(dir, 'failed-once');
  // Fails once (after looking), then passes: setup must not run again for the second attempt.
  const work = `const fs = require('node:fs');
fs.writeFileSync('seen.txt', fs.readFileSync('.env', 'utf8') + require('./node_modules/dep'));
if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); process.exit(1); }`;
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'),
    worktree: { copy: ['.env'], link: ['node_modules'], setup: [process.execPath, '-e', `require('node:fs').appendFileSync(${JSON.stringify(setups)}, process.cwd() + '\\n')`] },
    workflows: { default: { implement: { command: [process.execPath, '-e', work] }, retry: { max_attempts: 2, base_delay_s: 0.01, jitter: 0 } } },
  }));
  const sRun = await runOnce(root);
  t.same(sRun.done, ['S'], `attempts: ${JSON.stringify(record(root, 'S').attempts.map(a => [a.reason, a.error]))}`);
  const path = record(root, 'S').worktree?.path ?? '';
  t.equal(readFileSync(setups, 'utf8'), `${path}\n`, 'the setup command ran once, in the worktree');
  t.equal(git(root, 'show', 'orch/S:seen.txt'), 'SECRET=1\n42', 'the agent saw the copy and the link');
  t.equal(git(root, 'ls-tree', '--name-only', 'orch/S'), '.gitignore\nseen.txt\nshared.txt', 'neither .env nor node_modules was committed');
  t.notOk(existsSync(path), 'the worktree is removed once DONE');
  t.equal(readFileSync(join(root, 'node_modules/dep/index.js'), 'utf8'), 'module.exports = 42;\n', 'the linked folder itself is untouched');
  t.equal(readFileSync(join(root, '.env'), 'utf8'), 'SECRET=1\n');
});

t.test('worktree setup that fails, or names a tracked file: the task waits for a person with the reason, no agent runs', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['F', 'G']);
  const ran = join(dir, 'ran');
  const config = (worktree: object) => JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'), worktree,
    workflows: { default: { implement: { command: [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(ran)}, '')`] } } },
  });
  writeFileSync(join(root, '.isollm/config.json'), config({ setup: [process.execPath, '-e', 'console.log("npm ERR! missing lockfile"); process.exit(3)'] }));
  const failed = await runOnce(root);
  t.same(failed.awaiting.sort(), ['F', 'G']);
  t.match(record(root, 'F').awaiting, { kind: 'config', reason: /worktree\.setup .* failed in .* \(exit 3\): npm ERR! missing lockfile/ });
  t.notOk(existsSync(ran), 'no agent ran in a worktree that is not set up');

  writeFileSync(join(root, '.isollm/config.json'), config({ copy: ['shared.txt'] }));
  await decide(statePaths(root), { taskId: 'G', action: 'retry' });
  t.same((await runOnce(root)).awaiting, ['F', 'G']);
  t.match(record(root, 'G').awaiting, { kind: 'config', reason: /names shared\.txt, which git tracks/ });
});

t.test('a retried attempt starts from the last checkpoint: what a failed attempt half-edited is gone', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['R']);
  const marker = join(dir, 'failed-once');
  // First attempt: writes a stray file, then fails. Second: finds no stray file, and edits.
  const script = `const fs = require('node:fs');
if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); fs.writeFileSync('stray.txt', 'half done'); process.exit(1); }
fs.writeFileSync('seen.txt', String(fs.existsSync('stray.txt')));`;
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'),
    workflows: { default: { implement: { command: [process.execPath, '-e', script] }, retry: { max_attempts: 2, base_delay_s: 0.01, jitter: 0 } } },
  }));
  const result = await runOnce(root);
  t.same(result.done, ['R']);
  t.equal(git(root, 'show', 'orch/R:seen.txt'), 'false', 'the second attempt did not see the first one\'s stray file');
  t.throws(() => git(root, 'show', 'orch/R:stray.txt'), 'nor was it checkpointed');
});

t.test('a repository with no commit yet: the task waits for a person with a clear reason, nothing is made', async t => {
  const dir = t.testdir();
  const root = makeProject(join(dir, 'repo'), { workflow: { implement: { command: EDIT } }, config: { worktree_root: join(dir, 'worktrees') }, tasks: { E: { goal: 'x' } } });
  git(root, 'init', '--quiet');
  const result = await runOnce(root);
  t.same(result.awaiting, ['E']);
  t.match(record(root, 'E').awaiting, { kind: 'config', reason: /no commit yet.*commit once/ });
  t.notOk(existsSync(join(dir, 'worktrees')));
});

t.test('a detached HEAD: the task\'s branch is made from the commit checked out, and HEAD stays detached', async t => {
  const { root } = repoProject(t.testdir(), ['X']);
  writeFileSync(join(root, 'second.txt'), '2\n');
  git(root, 'add', 'second.txt');
  git(root, 'commit', '--quiet', '-m', 'second');
  const second = git(root, 'rev-parse', 'HEAD');
  git(root, 'checkout', '--quiet', '--detach', 'HEAD~1');
  const detached = git(root, 'rev-parse', 'HEAD');
  t.same((await runOnce(root)).done, ['X']);
  t.equal(record(root, 'X').worktree?.base_sha, detached);
  t.equal(git(root, 'rev-parse', 'HEAD'), detached);
  t.throws(() => git(root, 'symbolic-ref', '--quiet', 'HEAD'), 'still detached');
  t.equal(git(root, 'rev-parse', 'main'), second, 'main did not move');
});

t.test('a .git made while a task runs (an agent\'s git init), or one that is no repository, moves nothing: the task goes on in the project root', async t => {
  const dir = t.testdir();
  const marker = join(dir, 'inited');
  const script = `const fs = require('node:fs');
if (!fs.existsSync(${JSON.stringify(marker)})) { require('node:child_process').execFileSync('git', ['init', '--quiet']); fs.writeFileSync(${JSON.stringify(marker)}, ''); process.exit(1); }
fs.writeFileSync('done.txt', process.cwd());`;
  const root = makeProject(join(dir, 'plain'), {
    workflow: { implement: { command: [process.execPath, '-e', script] }, retry: { max_attempts: 2, base_delay_s: 0.01, jitter: 0 } },
    config: { worktree_root: join(dir, 'worktrees') },
    tasks: { I: { goal: 'x' } },
  });
  t.same((await runOnce(root)).done, ['I']);
  t.equal(readFileSync(join(root, 'done.txt'), 'utf8'), root, 'the second attempt ran where the first did');
  t.equal(record(root, 'I').worktree, undefined);

  const empty = makeProject(join(dir, 'empty-git'), { workflow: { implement: { command: EDIT } }, config: { worktree_root: join(dir, 'worktrees') }, tasks: { J: { goal: 'x' } } });
  mkdirSync(join(empty, '.git'));
  writeFileSync(join(empty, 'shared.txt'), '');
  t.same((await runOnce(empty)).done, ['J']);
  t.equal(readFileSync(join(empty, 'shared.txt'), 'utf8'), 'edit by J\n', 'an empty .git folder is no repository');
});

t.test('not a git repository: commands run in the project root, as before', async t => {
  const root = makeProject(join(t.testdir(), 'plain'), { workflow: { implement: { command: EDIT } }, tasks: { P: { goal: 'x' } } });
  writeFileSync(join(root, 'shared.txt'), '');
  t.same((await runOnce(root)).done, ['P']);
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'edit by P\n');
  t.equal(record(root, 'P').worktree, undefined);
});

t.test('a repository with a submodule: each task\'s worktree has it checked out, as the checkout does', async t => {
  const dir = t.testdir();
  // Local submodules need git's file protocol, off by default since 2.38.1: on for this process's git only.
  const saved = { ...process.env };
  Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'protocol.file.allow', GIT_CONFIG_VALUE_0: 'always' });
  t.teardown(() => {
    for (const key of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) if (saved[key] === undefined) delete process.env[key];
  });
  const lib = join(dir, 'lib');
  mkdirSync(lib);
  writeFileSync(join(lib, 'lib.txt'), 'the library\n');
  git(lib, 'init', '--quiet', '--initial-branch=main');
  git(lib, 'add', 'lib.txt');
  git(lib, 'commit', '--quiet', '-m', 'lib');
  const { root } = repoProject(dir, ['S']);
  git(root, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', lib, 'vendor/lib');
  git(root, 'commit', '--quiet', '-m', 'add the library');
  const script = "require('node:fs').writeFileSync('seen.txt', require('node:fs').readFileSync('vendor/lib/lib.txt', 'utf8'))";
  const config = JSON.parse(readFileSync(join(root, '.isollm/config.json'), 'utf8'));
  config.workflows.default.implement.command = [process.execPath, '-e', script];
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify(config));

  const result = await runOnce(root);
  t.same(result.done, ['S'], readFileSync(result.runLogPath, 'utf8'));
  t.equal(git(root, 'show', 'orch/S:seen.txt'), 'the library', 'the agent read the submodule\'s file in its worktree');

  config.worktree = { submodules: false };
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify(config));
  writeFileSync(join(root, '.isollm/tasks/T.json'), JSON.stringify({ goal: 'without submodules' }));
  await runOnce(root);
  t.equal(record(root, 'T').state, 'FAILED', 'worktree.submodules false: the folder is empty, and the command that needed it failed');
});

t.test('orch\'s state committed to git by mistake: the run log says each worktree gets a stale copy, and how to stop it', async t => {
  const { root } = repoProject(t.testdir(), ['A']);
  git(root, 'add', '--force', '.isollm/config.json', '.isollm/tasks/A.json');
  git(root, 'commit', '--quiet', '-m', 'specs are fine to commit');
  const first = await runOnce(root);
  t.notMatch(readFileSync(first.runLogPath, 'utf8'), /git tracks files of orch's state/, 'specs and config: no warning');
  git(root, 'add', '--force', '.isollm/state/tasks/A.json');
  git(root, 'commit', '--quiet', '-m', 'a record, by mistake');
  const second = await runOnce(root);
  t.match(readFileSync(second.runLogPath, 'utf8'), /git tracks files of orch's state \(\.isollm\/state\/\): each task's worktree gets a stale copy of them; orch reads and writes only the project root's\. Add \.isollm\/state\/ to \.gitignore/);
});

t.test('the person\'s git holds index.lock for 3 s: tasks run on (their worktrees have their own index), and orch merge waits for it, never removing it', async t => {
  const { root } = repoProject(t.testdir(), ['A']);
  const lock = join(root, '.git/index.lock');
  writeFileSync(lock, '');
  const result = await runOnce(root);
  t.same(result.done, ['A'], 'the task ran in its worktree while the checkout\'s index was locked');
  t.ok(existsSync(lock), 'the lock is where the person\'s git left it');
  let releasedAt = 0;
  const release = setTimeout(() => {
    releasedAt = Date.now();
    rmSync(lock);
  }, 3000);
  t.teardown(() => clearTimeout(release));
  const merged = await runCli(['merge', 'A'], { cwd: root, env: PERSON, timeoutMs: 60_000 });
  t.equal(merged.code, 0, merged.stderr);
  t.ok(releasedAt > 0, 'orch merge ended only after the person\'s git let go of the lock');
  t.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'line 1\nedit by A\n');
});

t.test('a repository whose node_modules is itself a symlink (a shared store): linked into the worktree, read there, and neither link nor store touched when the worktree goes', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['S']);
  writeFileSync(join(root, '.gitignore'), '.isollm/\nORCHESTRATOR_RUN_LOG.md\nnode_modules\n');
  git(root, 'commit', '--quiet', '-am', 'ignore deps');
  const store = join(dir, 'store');
  mkdirSync(join(store, 'dep'), { recursive: true });
  writeFileSync(join(store, 'dep/index.js'), 'module.exports = 7;\n');
  writeFileSync(join(store, 'dep/package.json'), '{"type": "commonjs"}\n'); // the store is outside any node_modules
  symlinkSync(store, join(root, 'node_modules'));
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({
    version: 1, project: 'test-project', workers: 1, worktree_root: join(dir, 'worktrees'), worktree: { link: ['node_modules'] },
    workflows: { default: { implement: { command: [process.execPath, '-e', "require('node:fs').writeFileSync('seen.txt', String(require('./node_modules/dep')))"] }, retry: { max_attempts: 1 } } },
  }));
  const result = await runOnce(root);
  t.same(result.done, ['S'], JSON.stringify(record(root, 'S').attempts.map(a => [a.reason, a.error])));
  t.equal(git(root, 'show', 'orch/S:seen.txt'), '7', 'the agent required the module through the links');
  t.equal(git(root, 'ls-tree', '--name-only', 'orch/S'), '.gitignore\nseen.txt\nshared.txt', 'the link was not committed');
  t.notOk(existsSync(record(root, 'S').worktree?.path ?? ''), 'the worktree is removed');
  t.ok(lstatSync(join(root, 'node_modules')).isSymbolicLink(), 'the person\'s link is still there');
  t.equal(readFileSync(join(store, 'dep/index.js'), 'utf8'), 'module.exports = 7;\n', 'and the store untouched');
});
