// `orch merge ID` (PRODUCT.md §14, merge "none"): the person takes a task's branch into their own
// checkout, by asking for it, and only when that checkout is clean: a merge into a dirty tree is where
// peers lost people's local changes. A conflict leaves the checkout as it was (the merge is aborted)
// and names the files. orch never does this on its own.
import type { TaskRecord } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { gitNow, serialised, waitForIndexLock } from '../git/run-git.js';
import { repositoryOf } from './task-worktree.js';

export type MergeOutcome =
  | { kind: 'merged'; commit: string; branch: string; into: string }
  | { kind: 'up_to_date'; branch: string; into: string }
  | { kind: 'conflict'; branch: string; into: string; files: string[] };

/** Merges the branch of `record`'s task into the checkout at `root` (its current branch). */
export async function mergeIntoCheckout(root: string, record: TaskRecord): Promise<MergeOutcome> {
  const plan = record.worktree;
  if (plan === undefined) {
    throw new OrchError('ORCH_USAGE', `task ${record.id} has no branch: it ran without a worktree (isolation none)`, {
      details: { task: record.id },
      hint: 'its changes were made in the project root itself',
    });
  }
  if (record.state !== 'DONE') {
    throw new OrchError('ORCH_USAGE', `task ${record.id} is ${record.state}, not DONE: its branch ${plan.branch} has not passed its reviews and gate`, {
      details: { task: record.id, state: record.state },
      hint: `wait for it to finish, or take the branch yourself with git merge ${plan.branch} if you mean to`,
    });
  }
  return mergeIntoCurrentBranch(root, plan.branch, ['--no-ff', '-m', `Merge ${plan.branch} (orch task ${record.id})`]);
}

/**
 * The merge target of the merge queue (`orch merge --target`): the queue's result into the person's
 * checkout when they choose, a fast-forward where it can be, only into a clean checkout.
 */
export async function mergeTargetIntoCheckout(root: string, target: string): Promise<MergeOutcome> {
  const repo = await repositoryOf(root);
  const exists = await gitNow(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${target}`]).then(() => true, () => false);
  if (!exists) {
    throw new OrchError('ORCH_USAGE', `there is no branch ${target}: no task has been merged by the queue yet`, {
      details: { target },
      hint: 'the queue makes it when the first task is merged (workflow "merge": "queue")',
    });
  }
  return mergeIntoCurrentBranch(root, target, ['-m', `Merge ${target} (orch merge queue)`]);
}

/** Merges `branch` into the checkout's current branch with `mergeArgs`; refused unless the checkout is clean. */
async function mergeIntoCurrentBranch(root: string, branch: string, mergeArgs: readonly string[]): Promise<MergeOutcome> {
  const repo = await repositoryOf(root);
  return serialised(repo, async () => {
    const into = await gitNow(repo, ['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => {
      throw new OrchError('ORCH_USAGE', `the checkout at ${repo} is on a detached HEAD: there is no branch to merge ${branch} into`, {
        details: { repo },
        hint: 'check out the branch to merge into first',
      });
    });
    const dirty = await gitNow(repo, ['status', '--porcelain', '--untracked-files=no']);
    const merging = await gitNow(repo, ['rev-parse', '--verify', '--quiet', 'MERGE_HEAD']).then(() => true, () => false);
    if (dirty !== '' || merging) {
      throw new OrchError('ORCH_USAGE', `the checkout at ${repo} has changes not committed (or a merge in progress): ${branch} is merged only into a clean checkout`, {
        details: { repo, changed: dirty.split('\n').filter(Boolean).slice(0, 10) },
        hint: 'commit or stash your changes first (orch never merges into them), or merge the branch yourself',
      });
    }
    const before = await gitNow(repo, ['rev-parse', 'HEAD']);
    // The person's own git may hold the index: a merge that meets its lock fails half way, so it is waited out first.
    await waitForIndexLock(repo);
    const failure = await gitNow(repo, ['merge', '--no-edit', ...mergeArgs, branch]).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (failure !== undefined) {
      const files = (await gitNow(repo, ['diff', '--name-only', '--diff-filter=U']).catch(() => '')).split('\n').filter(Boolean);
      // Back to the checkout as it was: a half-done merge is never left in the person's tree.
      await gitNow(repo, ['merge', '--abort']).catch(() => undefined);
      if (files.length === 0) throw failure; // not a conflict (no identity to commit with, a hook): git's own words
      return { kind: 'conflict', branch, into, files };
    }
    const after = await gitNow(repo, ['rev-parse', 'HEAD']);
    return after === before ? { kind: 'up_to_date', branch, into } : { kind: 'merged', commit: after, branch, into };
  });
}
