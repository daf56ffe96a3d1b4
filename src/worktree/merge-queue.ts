// The merge queue (PRODUCT.md §14, issue 14 item 4): a task's branch goes into a target branch that no
// one has checked out, one task at a time: `git merge-tree --write-tree` onto the target's tip (no
// working tree, no index: nobody's checkout is touched), a merge commit made from that tree, the quality
// gate run on it (merge "queue": in a scratch worktree of orch's own), and only then the target moved,
// with a compare-and-swap `git update-ref <ref> <new> <old>`: a target that moved meanwhile is never
// overwritten. A conflict is committed on the task's branch, markers and all, for the agent (or a
// person) to resolve there; a branch that still holds conflict markers is never merged.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Worktree } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { DEFAULT_MERGE_TARGET } from '../machine/workflow.js';
import { gitAnswer, gitNow, serialised } from '../git/run-git.js';
import { CHECKPOINT_AUTHOR, parseWorktreeList } from './task-worktree.js';
import { excludingOwnEntries, prepareWorktree, type WorktreeSetup } from './worktree-setup.js';

export type PreparedMerge =
  /** The target holds the task's branch already (a crash after the target moved, before the record). */
  | { kind: 'merged_already'; target: string; tip: string }
  /** A merge commit onto `tip`, made but not yet on the target: `landMerge` puts it there. */
  | { kind: 'ready'; target: string; tip: string; commit: string }
  /** The branch and the target change the same lines, or (`leftover`) the branch still holds conflict markers. */
  | { kind: 'conflict'; target: string; tip: string; files: string[]; details: string; leftover: boolean };

/**
 * Runs `fn` after every earlier merge into `target` of `repo` in this process has ended: the queue.
 * Not the repository's git queue (see serialised): a gate may run for minutes inside it.
 */
export function inMergeQueue<T>(repo: string, target: string, fn: () => Promise<T>): Promise<T> {
  return serialised(`merge-queue\0${repo}\0${target}`, fn);
}

/**
 * Where the task's branch (`plan`) would take `target`: made from `plan.base_sha` when missing; a
 * target checked out in any working tree is refused (orch never moves a branch under a checkout).
 */
export async function prepareMerge(repo: string, plan: Worktree, target: string, message: string): Promise<PreparedMerge> {
  return serialised(repo, async () => {
    await refuseCheckedOut(repo, target);
    const ref = `refs/heads/${target}`;
    const tip = await targetTip(repo, ref, plan.base_sha);
    const head = await gitNow(repo, ['rev-parse', '--verify', `refs/heads/${plan.branch}^{commit}`]);
    const leftovers = await conflictMarkers(repo, tip, head);
    if (leftovers.length > 0) {
      return { kind: 'conflict', target, tip, files: leftovers, details: '', leftover: true };
    }
    const contained = await gitAnswer(repo, ['merge-base', '--is-ancestor', head, tip], { answers: [1] });
    if (contained.exitCode === 0) return { kind: 'merged_already', target, tip };
    const merged = await gitAnswer(repo, ['merge-tree', '--write-tree', '--name-only', '--messages', tip, head], { answers: [1] });
    const [head_, ...rest] = merged.stdout.split('\n\n');
    const [tree = '', ...files] = (head_ ?? '').split('\n');
    if (merged.exitCode === 1) return { kind: 'conflict', target, tip, files, details: rest.join('\n\n').trim(), leftover: false };
    const commit = await gitNow(repo, ['commit-tree', tree, '-p', tip, '-p', head, '-m', message], { env: CHECKPOINT_AUTHOR });
    return { kind: 'ready', target, tip, commit };
  });
}

/** A branch checked out in the person's checkout or any worktree is not moved by orch. */
async function refuseCheckedOut(repo: string, target: string): Promise<void> {
  await gitNow(repo, ['check-ref-format', '--branch', target]).catch(() => {
    throw new OrchError('ORCH_CONFIG_INVALID', `merge_target "${target}" is not a valid branch name`, {
      details: { path: '/workflows/*/merge_target', target },
      hint: 'name a branch such as orch/integration in the workflow\'s merge_target',
    });
  });
  const holder = parseWorktreeList(await gitNow(repo, ['worktree', 'list', '--porcelain'])).find(entry => entry.branch === `refs/heads/${target}`);
  if (holder !== undefined) {
    throw new OrchError('ORCH_CONFIG_INVALID', `merge_target ${target} is checked out at ${holder.path}: orch never moves a branch under someone's checkout`, {
      details: { path: '/workflows/*/merge_target', target, checkout: holder.path },
      hint: `check out another branch at ${holder.path}, or set merge_target to a branch no one has checked out (default ${DEFAULT_MERGE_TARGET}); take the queue's result with git merge ${target} when you choose`,
    });
  }
}

/** The target's tip; a missing target is made at `base` (compare-and-swap: only if it still does not exist). */
async function targetTip(repo: string, ref: string, base: string): Promise<string> {
  const tip = await gitAnswer(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { answers: [1] });
  if (tip.exitCode === 0) return tip.stdout;
  await gitNow(repo, ['update-ref', '-m', 'orch: merge target made from the first task\'s base', ref, base, '']).catch(() => undefined);
  return gitNow(repo, ['rev-parse', '--verify', `${ref}^{commit}`]);
}

/** Files where the branch adds conflict markers over the target (`git diff --check` finds them). */
async function conflictMarkers(repo: string, tip: string, head: string): Promise<string[]> {
  const checked = await gitAnswer(repo, ['diff', '--check', '--no-color', tip, head], { answers: [1, 2] });
  const files = new Set<string>();
  for (const line of checked.stdout.split('\n')) {
    const found = /^(.+):\d+: leftover conflict marker$/.exec(line);
    if (found?.[1] !== undefined) files.add(found[1]);
  }
  return [...files];
}

/**
 * Moves the target from `prepared.tip` to `prepared.commit` if it is still at the tip. False when it
 * moved (someone else's push, another orchestrator): nothing is overwritten, the task merges again.
 */
export async function landMerge(repo: string, prepared: Extract<PreparedMerge, { kind: 'ready' }>, message: string): Promise<boolean> {
  return serialised(repo, async () => {
    const ref = `refs/heads/${prepared.target}`;
    try {
      await gitNow(repo, ['update-ref', '-m', message, ref, prepared.commit, prepared.tip]);
      return true;
    } catch (error) {
      const now = await gitNow(repo, ['rev-parse', '--verify', '--quiet', ref]).catch(() => undefined);
      if (now !== prepared.tip) return false;
      throw error;
    }
  });
}

/**
 * The target merged into the task's branch, in its worktree, with the conflicts committed as they are
 * (markers and all): the next attempt finds them in the files, resolves them and its checkpoint
 * carries the resolution; the next merge then has the target's tip as an ancestor. Returns the commit.
 */
export async function commitConflict(repo: string, plan: Worktree, target: string, setup: WorktreeSetup): Promise<string> {
  return serialised(repo, async () => {
    const message = `orch: merge ${target} into ${plan.branch}: conflicts left to resolve`;
    const merged = await gitAnswer(repo, ['merge', '--no-ff', '--no-edit', '-m', message, `refs/heads/${target}`], { cwd: plan.path, env: CHECKPOINT_AUTHOR, answers: [1] });
    if (merged.exitCode === 1) {
      const unmerged = await gitNow(repo, ['diff', '--name-only', '--diff-filter=U'], { cwd: plan.path });
      if (unmerged === '') {
        // Not a conflict (an untracked file in the way, say): nothing half done is left behind.
        await gitNow(repo, ['merge', '--abort'], { cwd: plan.path }).catch(() => undefined);
        throw new OrchError('ORCH_GIT_FAILED', `git merge ${target} in ${plan.path} failed: ${merged.stdout.split('\n').slice(-2).join(' ')}`, { details: { repo, worktree: plan.path } });
      }
      await gitNow(repo, ['add', '--all', '--', ...(await excludingOwnEntries(repo, plan.path, setup))], { cwd: plan.path });
      await gitNow(repo, ['commit', '--quiet', '--no-verify', '-m', message], { cwd: plan.path, env: CHECKPOINT_AUTHOR });
    }
    return gitNow(repo, ['rev-parse', 'HEAD'], { cwd: plan.path });
  });
}

/**
 * orch's own scratch worktree for gating merges into `target` (merge "queue"), checked out detached at
 * `commit` with the config's copies, links and setup: `<folder>/.merge-<target>`, a name no task can
 * have (task ids never start with a dot). Made locked once, reused; a folder git does not know there
 * is a scratch a crash cut short, and is removed: it only ever holds a checkout of a commit.
 */
export async function gateWorktreeAt(repo: string, folder: string, prepared: Extract<PreparedMerge, { kind: 'ready' }>, setup: WorktreeSetup): Promise<Worktree> {
  const path = join(folder, `.merge-${prepared.target.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  await serialised(repo, async () => {
    const listed = parseWorktreeList(await gitNow(repo, ['worktree', 'list', '--porcelain'])).some(entry => entry.path === path);
    if (listed && existsSync(path)) {
      await gitNow(repo, ['checkout', '--quiet', '--force', '--detach', prepared.commit], { cwd: path });
      await gitNow(repo, ['clean', '-fd', '--quiet', '--', ...(await excludingOwnEntries(repo, path, setup))], { cwd: path });
      return;
    }
    await gitNow(repo, ['worktree', 'prune']);
    rmSync(path, { recursive: true, force: true });
    await gitNow(repo, ['worktree', 'add', '--lock', '--detach', path, prepared.commit]);
  });
  const worktree: Worktree = { path, branch: prepared.target, base_sha: prepared.tip };
  await prepareWorktree(repo, worktree, setup);
  return worktree;
}
