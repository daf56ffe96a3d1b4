// The merge queue (PRODUCT.md §14, issue 14 item 4): real git, a real repository made in the test, real
// runs of the orchestrator. Tasks that edit the same lines at once are merged one at a time into a
// target branch no one has checked out; a conflict goes back to the agent with the markers committed on
// its branch; the gate runs on the merged tree; the target moves only by compare-and-swap after a gate
// that passed; the person's checkout is never written.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord, Workflow } from '../../src/generated/types.js';
import { decide } from '../../src/runtime/decide.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { startServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { makeProject, writeTask } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';
import { PERSON, checkoutState, git, initRepo } from '../fixtures/git-repo.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));
const TARGET = 'orch/integration';

/**
 * The agent: resolves any conflict markers in shared.txt by keeping both sides, adds its own line
 * there (once) and writes <id>.txt. What a careful agent does with the feedback it is given.
 */
const AGENT: [string, ...string[]] = [
  process.execPath,
  '-e',
  `const fs = require('node:fs');
const id = process.env.ORCH_TASK_ID;
let lines = fs.readFileSync('shared.txt', 'utf8').split('\\n').filter(l => l !== '' && !/^(<<<<<<<|=======|>>>>>>>)/.test(l));
if (!lines.includes('edit by ' + id)) lines.push('edit by ' + id);
fs.writeFileSync('shared.txt', lines.join('\\n') + '\\n');
fs.writeFileSync(id + '.txt', id);`,
];

/** A gate check that fails on conflict markers, and notes where it ran and on which commit. */
function gateCheck(dir: string): [string, ...string[]] {
  const log = join(dir, 'gate.log');
  return [
    process.execPath,
    '-e',
    `const fs = require('node:fs');
const head = require('node:child_process').execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ task: process.env.ORCH_TASK_ID, cwd: process.cwd(), head, base: process.env.ORCH_BASE_SHA }) + '\\n');
if (/^(<<<<<<<|>>>>>>>)/m.test(fs.readFileSync('shared.txt', 'utf8'))) { console.error('conflict markers in shared.txt'); process.exit(1); }`,
  ];
}

function repoProject(dir: string, ids: string[], workflow: Workflow, workers = 4): { root: string; worktrees: string; base: string } {
  const root = join(dir, 'repo');
  const worktrees = join(dir, 'worktrees');
  makeProject(root, {
    workflow: { implement: { command: AGENT }, quality_gate: { checks: { markers: gateCheck(dir) } }, retry: { max_attempts: 10, base_delay_s: 0.01, jitter: 0 }, merge: 'queue', ...workflow },
    config: { workers, worktree_root: worktrees },
    tasks: Object.fromEntries(ids.map(id => [id, { goal: `edit as ${id}` }])),
  });
  return { root, worktrees, base: initRepo(root, { 'shared.txt': 'line 1\n' }) };
}


interface GateRun {
  task: string;
  cwd: string;
  head: string;
  base: string;
}
const gateRuns = (dir: string): GateRun[] => readFileSync(join(dir, 'gate.log'), 'utf8').trim().split('\n').map(line => JSON.parse(line) as GateRun);

t.test('eight tasks edit the same lines at once: the queue merges every one into the target, conflicts go back to the agent, no edit is lost, the checkout untouched', async t => {
  const dir = t.testdir();
  const ids = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
  const { root, base } = repoProject(dir, ids, {});
  writeFileSync(join(root, 'shared.txt'), 'line 1\nthe person\'s own edit, not committed\n');
  git(root, 'stash', 'push', '--quiet', '-m', 'the person\'s stash');
  writeFileSync(join(root, 'shared.txt'), 'line 1\nthe person\'s own edit, not committed\n');
  const before = checkoutState(root);

  const result = await runOnce(root);
  t.same(result.done.sort(), ids, 'every task DONE');
  const merged = git(root, 'show', `${TARGET}:shared.txt`).split('\n');
  t.same(merged.slice(1).sort(), ids.map(id => `edit by ${id}`), 'the target holds every task\'s edit of the shared lines, and no marker');
  for (const id of ids) {
    t.equal(git(root, 'show', `${TARGET}:${id}.txt`), id, `${id}: its own file is in the target`);
    const gate = record(root, id).attempts.filter(a => a.phase === 'quality_gate').at(-1);
    t.match(gate?.merge, { target: TARGET }, `${id}: its last gate attempt names the merge`);
  }
  const conflicted = ids.filter(id => record(root, id).attempts.some(a => a.checks?.some(c => c.name === `merge into ${TARGET}` && !c.passed)));
  t.ok(conflicted.length > 0, `some tasks met a conflict and went back to the agent (${conflicted.join(', ')})`);
  const again = record(root, conflicted[0] ?? 'A');
  t.ok(again.attempts.filter(a => a.phase === 'implement').length > 1, 'a conflicted task was implemented again');
  // The target's first-parent history is one merge commit per task, each made onto the tip before it.
  const parents = git(root, 'rev-list', '--first-parent', '--parents', `${base}..${TARGET}`).split('\n');
  t.equal(parents.length, ids.length, 'one merge per task on the target');
  t.ok(parents.every(line => line.split(' ').length === 3), 'each of them a merge commit (two parents)');
  // Every gate that passed ran on the merged tree, in orch's scratch worktree, at the commit that became the target.
  const tips = new Set(parents.map(line => line.split(' ')[0]));
  const passedHeads = ids.map(id => record(root, id).attempts.filter(a => a.merge !== undefined).at(-1)?.merge?.commit);
  t.ok(passedHeads.every(head => head !== undefined && tips.has(head)), 'each landed merge is on the target');
  for (const run of gateRuns(dir).filter(run => tips.has(run.head))) t.match(run.cwd, /\/\.merge-orch_integration$/, 'the gate ran in the scratch worktree');
  t.equal(checkoutState(root), before, 'the person\'s files, index, HEAD, status, stash and branches are as they were');
  const log = readFileSync(result.runLogPath, 'utf8');
  t.match(log, /merged into orch\/integration one task at a time, the quality gate run on the merged tree/);
  t.match(log, /Merged task [A-H] into orch\/integration: [0-9a-f]{12} \(onto [0-9a-f]{12}\)/);
  t.match(log, /conflicts with orch\/integration in shared\.txt/);
  t.notMatch(git(root, 'worktree', 'list'), /orch\//, 'every task worktree removed');
  git(root, 'fsck', '--no-progress');
});

t.test('a gate that fails on the merged tree sends the task back and does not move the target; it passes once the agent fixes it', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['A'], {}, 1);
  t.same((await runOnce(root)).done, ['A']);
  const afterA = git(root, 'rev-parse', TARGET);
  // B's gate fails when A's file is beside B's (only on the merged tree) until B writes b-fixed.txt.
  const gate = `const fs = require('node:fs'); if (fs.existsSync('A.txt') && fs.existsSync('B.txt') && !fs.existsSync('b-fixed.txt')) { console.error('A.txt and B.txt clash'); process.exit(1); }`;
  const agent = `const fs = require('node:fs'); fs.writeFileSync('B.txt', 'B'); if (fs.existsSync(process.env.ORCH_FEEDBACK_FILE ?? '')) fs.writeFileSync('b-fixed.txt', 'fixed');`;
  const config = JSON.parse(readFileSync(join(root, '.isollm/config.json'), 'utf8'));
  config.workflows.default.implement.command = [process.execPath, '-e', agent];
  config.workflows.default.quality_gate.checks = { clash: [process.execPath, '-e', gate] };
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify(config));
  writeTask(root, 'B', { goal: 'add B' });

  await runOnce(root);
  t.equal(record(root, 'B').state, 'DONE');
  const gates = record(root, 'B').attempts.filter(a => a.phase === 'quality_gate');
  t.equal(gates.length, 2, 'the gate ran twice');
  t.same(gates[0]?.checks?.map(c => [c.name, c.passed]), [['clash', false]], 'first: failed on the merged tree');
  t.equal(gates[0]?.merge, undefined, 'and merged nothing');
  t.equal(gates[1]?.merge?.onto, afterA, 'second: merged onto A\'s merge, the tip it had not moved from');
  t.equal(git(root, 'rev-parse', `${TARGET}^1`), afterA, 'the target moved once, past a gate that passed');
  t.equal(git(root, 'show', `${TARGET}:b-fixed.txt`), 'fixed');
  t.match(record(root, 'B').attempts.filter(a => a.phase === 'implement').length, 2, 'the agent was sent back once, with the gate\'s output');
});

t.test('a target checked out in the person\'s checkout is never moved: the task waits for a person with the reason', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['A'], {}, 1);
  git(root, 'checkout', '--quiet', '-b', TARGET);
  const before = checkoutState(root);
  const result = await runOnce(root);
  t.same(result.done, []);
  const r = record(root, 'A');
  t.equal(r.state, 'AWAITING_HUMAN');
  t.equal(r.awaiting?.kind, 'config');
  t.match(r.awaiting?.reason, /merge_target orch\/integration is checked out at .*: orch never moves a branch under someone's checkout/);
  t.equal(git(root, 'rev-parse', TARGET), git(root, 'rev-parse', 'main'), 'the target did not move');
  t.equal(checkoutState(root), before);
  t.match(readFileSync(result.runLogPath, 'utf8'), /merge_target orch\/integration is checked out at .*: tasks of this workflow will wait for a person at their merge/, 'said at the start of the run');
  const validated = await runCli(['validate', '--json'], { cwd: root });
  t.equal(validated.code, 2, 'orch validate refuses the config');
  t.match(validated.stdout, /\/workflows\/default\/merge_target/);
  t.match(validated.stdout, /is checked out at/);
});

t.test('on_conflict human: the conflict waits for a person, committed in the task\'s worktree; resolved and approved, it merges', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['A', 'B'], { on_conflict: 'human' }, 1);
  const result = await runOnce(root);
  t.equal(result.done.length, 1, 'one task merged');
  const waiting = result.done[0] === 'A' ? 'B' : 'A';
  const r = record(root, waiting);
  t.equal(r.state, 'AWAITING_HUMAN');
  t.equal(r.awaiting?.kind, 'merge_conflict');
  t.match(r.awaiting?.reason, new RegExp(`conflicts with orch/integration in shared\\.txt: resolve the conflict markers in the task's worktree \\(${r.worktree?.path}\\), commit there, then approve`));
  const path = r.worktree?.path ?? '';
  t.match(readFileSync(join(path, 'shared.txt'), 'utf8'), /^<<<<<<< /m, 'the markers are in the worktree, committed');
  t.equal(git(path, 'status', '--porcelain'), '');

  // Approved without resolving: the markers are found, and it waits again. Never merged with markers.
  await decide(statePaths(root), { taskId: waiting, action: 'approve' });
  await runOnce(root);
  t.equal(record(root, waiting).awaiting?.kind, 'merge_conflict');
  t.match(record(root, waiting).awaiting?.reason, /conflict markers are left in shared\.txt/);
  t.notMatch(git(root, 'show', `${TARGET}:shared.txt`), /<<<<<<<|>>>>>>>/);

  writeFileSync(join(path, 'shared.txt'), 'line 1\nedit by A\nedit by B\n');
  git(path, 'commit', '--quiet', '-am', 'resolved by the person');
  await decide(statePaths(root), { taskId: waiting, action: 'approve' });
  await runOnce(root);
  t.equal(record(root, waiting).state, 'DONE');
  t.equal(git(root, 'show', `${TARGET}:shared.txt`), 'line 1\nedit by A\nedit by B');
});

t.test('the target moved by someone else while the gate ran: nothing is overwritten, the task merges again onto the new tip', async t => {
  const dir = t.testdir();
  const { root, base } = repoProject(dir, ['A'], {}, 1);
  // Someone else's commit on the target, made (once) while A's gate runs.
  git(root, 'branch', TARGET, base);
  const other = git(root, 'commit-tree', git(root, 'rev-parse', `${base}^{tree}`), '-p', base, '-m', 'someone else');
  const moved = join(dir, 'moved');
  const gate = `const fs = require('node:fs'); if (!fs.existsSync(${JSON.stringify(moved)})) { fs.writeFileSync(${JSON.stringify(moved)}, ''); require('node:child_process').execFileSync('git', ['update-ref', 'refs/heads/${TARGET}', ${JSON.stringify(other)}]); }`;
  const config = JSON.parse(readFileSync(join(root, '.isollm/config.json'), 'utf8'));
  config.workflows.default.quality_gate.checks = { move: [process.execPath, '-e', gate] };
  writeFileSync(join(root, '.isollm/config.json'), JSON.stringify(config));

  const result = await runOnce(root);
  t.same(result.done, ['A']);
  const gates = record(root, 'A').attempts.filter(a => a.phase === 'quality_gate');
  t.equal(gates[0]?.reason, 'failed');
  t.match(gates[0]?.error, /orch\/integration moved while the gate ran/);
  t.equal(gates[1]?.merge?.onto, other, 'merged again, onto the commit someone else made');
  t.equal(git(root, 'rev-parse', `${TARGET}^1`), other, 'their commit is kept in the target');
});

t.test('merge "branch": the gate runs on the task\'s branch in its worktree, then the branch is merged into the target', async t => {
  const dir = t.testdir();
  const { root } = repoProject(dir, ['A'], { merge: 'branch', merge_target: 'integration/next' }, 1);
  const result = await runOnce(root);
  t.same(result.done, ['A']);
  const r = record(root, 'A');
  const run = gateRuns(dir).at(-1);
  t.equal(run?.cwd, r.worktree?.path, 'the gate ran in the task\'s worktree');
  t.equal(git(root, 'show', 'integration/next:A.txt'), 'A');
  t.match(r.attempts.at(-1)?.merge, { target: 'integration/next' });
  const shown = await runCli(['show', 'A'], { cwd: root });
  t.match(shown.stdout, new RegExp(`merged: into integration/next · ${git(root, 'rev-parse', 'integration/next').slice(0, 12)} \\(onto [0-9a-f]{12}\\)`));
  t.notOk(existsSync(join(dir, 'worktrees', readdirSync(join(dir, 'worktrees'))[0] ?? '', '.merge-integration_next')), 'no scratch worktree for merge "branch"');

  // orch serve shows the branch's change, worktree gone or not.
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const token = (JSON.parse(readFileSync(join(root, '.isollm/state/serve.json'), 'utf8')) as { token: string }).token;
  const answer = await fetch(`${server.url}api/v1/tasks/A/diff`, { headers: { Authorization: `Bearer ${token}` } });
  t.equal(answer.status, 200);
  t.match(await answer.json(), { branch: 'orch/A', base_sha: record(root, 'A').worktree?.base_sha, clipped: false, text: /\+\+\+ b\/A\.txt\n@@ -0,0 \+1 @@\n\+A/ });

  // The person takes the target when they choose: orch merge --target (the config's merge_target), a fast-forward of a clean checkout.
  writeFileSync(join(root, 'shared.txt'), 'not committed\n');
  const refused = await runCli(['merge', '--target'], { cwd: root, env: PERSON });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /integration\/next is merged only into a clean checkout/);
  git(root, 'checkout', '--', 'shared.txt');
  const taken = await runCli(['merge', '--target', '--json'], { cwd: root, env: PERSON });
  t.equal(taken.code, 0, taken.stderr);
  t.match(JSON.parse(taken.stdout), { kind: 'merged', branch: 'integration/next', into: 'main' });
  t.equal(git(root, 'rev-parse', 'main'), git(root, 'rev-parse', 'integration/next'), 'a fast-forward');
  t.equal(readFileSync(join(root, 'A.txt'), 'utf8'), 'A');
  const none = await runCli(['merge', '--target', 'orch/nothing'], { cwd: root, env: PERSON });
  t.equal(none.code, 2);
  t.match(none.stderr, /there is no branch orch\/nothing/);
});

t.test('kill -9 of orch after the target moved, before the record said so: --resume finds the branch merged, moves nothing again, leaks nothing', async t => {
  const dir = t.testdir();
  const { root, base } = repoProject(dir, ['A'], {}, 1);
  const crashed = await runCli(['--once'], { cwd: root, env: { ORCH_CRASH_AT: 'merge.after-land' }, timeoutMs: 60_000 });
  t.equal(crashed.signal, 'SIGKILL', 'killed at the crash point');
  const landed = git(root, 'rev-parse', TARGET);
  t.not(landed, base, 'the target had moved');
  t.equal(record(root, 'A').state, 'QUALITY_GATE', 'the record did not know it yet');

  const resumed = await runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  const r = record(root, 'A');
  t.equal(r.state, 'DONE');
  const gates = r.attempts.filter(a => a.phase === 'quality_gate');
  t.same(gates.map(a => a.reason), ['interrupted', 'succeeded']);
  t.same(gates[1]?.merge, { target: TARGET, commit: landed, onto: landed }, 'found merged already: recorded as the tip');
  t.equal(git(root, 'rev-parse', TARGET), landed, 'the target did not move again');
  t.equal(git(root, 'rev-list', '--count', '--first-parent', `${base}..${TARGET}`), '1', 'one merge of the task');
  t.notMatch(git(root, 'worktree', 'list'), /orch\//, 'no task worktree left');
  git(root, 'fsck', '--no-progress');
});
