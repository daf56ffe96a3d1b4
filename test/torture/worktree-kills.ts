// kill -9 of orch at random moments while task worktrees are made, checkpointed, merged by the queue and
// removed (issue 14's torture): after the last `--resume`, no worktree leaked, no checkpoint lost, the
// target moved only to merge commits a gate passed, each task merged once, `git fsck` clean, and the
// person's checkout as it was. 20 kills here; `ORCH_WORKTREE_KILLS=100` for the full count.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { isTerminal } from '../../src/machine/states.js';
import { makeProject } from '../fixtures/project.js';
import { killNow, startOrch } from './project.js';
import { seededRandom } from './workload.js';
import { checkoutState, git, initRepo } from '../fixtures/git-repo.js';

const KILLS = Number(process.env.ORCH_WORKTREE_KILLS ?? 20);
const SEED = Number(process.env.ORCH_TORTURE_SEED ?? 20261202);
const TASKS = 10;
const TARGET = 'orch/integration';

const isAncestor = (cwd: string, a: string, b: string): boolean => {
  try {
    execFileSync('git', ['merge-base', '--is-ancestor', a, b], { cwd, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

function records(root: string): TaskRecord[] {
  const dir = join(root, '.isollm/state/tasks');
  return existsSync(dir) ? readdirSync(dir).filter(name => /^[^.].*\.json$/.test(name) && !name.includes('.rejected-')).map(name => JSON.parse(readFileSync(join(dir, name), 'utf8')) as TaskRecord) : [];
}


t.test(`${TASKS} tasks in worktrees merged by the queue, ${KILLS} random kill -9s, then --resume: nothing leaked, lost or merged ungated`, async t => {
  const dir = t.testdir();
  const root = join(dir, 'repo');
  const worktrees = join(dir, 'worktrees');
  const gated = join(dir, 'gated.log');
  // Each step writes its own file (a little slowly, so kills land in the middle of work).
  const agent = ['/bin/sh', '-c', 'sleep 0.05; echo "$ORCH_TASK_ID $ORCH_STEP_ID" > "$ORCH_TASK_ID-$ORCH_STEP_ID.txt"'];
  // The gate notes every merge commit it passed: the target may only ever point at one of them.
  const gate = ['/bin/sh', '-c', `git rev-parse HEAD >> ${JSON.stringify(gated)}`];
  const ids = Array.from({ length: TASKS }, (_, i) => `T${String(i).padStart(2, '0')}`);
  makeProject(root, {
    workflow: { implement: { command: agent as [string, ...string[]] }, quality_gate: { checks: { gate: gate as [string, ...string[]] } }, merge: 'queue', retry: { max_attempts: 3, base_delay_s: 0.01, jitter: 0 } },
    config: { workers: 4, worktree_root: worktrees, max_interruptions: 100_000 },
    tasks: Object.fromEntries(ids.map(id => [id, { goal: `task ${id}`, steps: [{ id: 'S1', goal: 'one' }, { id: 'S2', goal: 'two' }] }])),
  });
  initRepo(root, { 'README.md': 'the person\'s project\n' });
  writeFileSync(join(root, 'README.md'), 'the person\'s project, with an edit not committed\n');
  const before = checkoutState(root);
  const marker = `worktree-kills-${SEED}`;
  const random = seededRandom(SEED);

  let kills = 0;
  let selfExits = 0;
  const everCheckpointed = new Map<string, string>();
  while (kills < KILLS && selfExits < 3) {
    const run = startOrch({ root, marker }, ['--resume', '--once']);
    const delay = 50 + random() * 900;
    const ended = await Promise.race([run.exited.then(() => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), delay))]);
    if (ended) {
      selfExits += 1;
      if (records(root).length === TASKS && records(root).every(r => isTerminal(r.state))) break;
      continue;
    }
    selfExits = 0;
    await killNow(run);
    kills += 1;
    // Every checkpoint a record ever named must stay reachable from its task's branch.
    for (const r of records(root)) for (const a of r.attempts) if (a.checkpoint !== undefined) everCheckpointed.set(a.checkpoint, r.id);
  }
  const last = startOrch({ root, marker }, ['--resume', '--once']);
  const end = await last.exited;
  t.equal(end.code, 0, last.output());
  t.comment(`seed ${SEED}: ${kills} kills`);

  const all = records(root);
  t.same(all.map(r => [r.id, r.state]).sort(), ids.map(id => [id, 'DONE']), 'every task DONE');
  for (const r of all) for (const a of r.attempts) if (a.checkpoint !== undefined) everCheckpointed.set(a.checkpoint, r.id);
  const lost = [...everCheckpointed].filter(([sha, id]) => !isAncestor(root, sha, `orch/${id}`));
  t.same(lost, [], `no checkpoint lost (${everCheckpointed.size} checked)`);
  for (const id of ids) {
    t.ok(isAncestor(root, `orch/${id}`, TARGET), `${id}: its branch is in the target`);
    t.equal(git(root, 'show', `${TARGET}:${id}-S2.txt`), `${id} S2`);
  }
  const firstParents = git(root, 'rev-list', '--first-parent', `main..${TARGET}`).split('\n').filter(Boolean);
  t.equal(firstParents.length, TASKS, 'one merge per task: none merged twice');
  const passed = new Set(readFileSync(gated, 'utf8').split('\n').filter(Boolean));
  t.same(firstParents.filter(sha => !passed.has(sha)), [], 'the target only ever moved to a merge commit its gate passed');
  const listed = git(root, 'worktree', 'list', '--porcelain');
  t.notMatch(listed, /branch refs\/heads\/orch\/T/, 'no task worktree left registered');
  const folder = readdirSync(worktrees)[0] ?? '';
  t.same(readdirSync(join(worktrees, folder)).filter(name => !name.startsWith('.merge-')), [], 'no task worktree left on disk');
  git(root, 'fsck', '--no-progress', '--no-dangling');
  t.equal(checkoutState(root), before, 'the person\'s checkout, index, HEAD, stash and branches are as they were');
});
