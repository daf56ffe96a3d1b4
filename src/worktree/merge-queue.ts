// The merge queue (PRODUCT.md §14, issue 14 item 4): a task's branch goes into a target branch that no
// one has checked out, one task at a time: `git merge-tree --write-tree` onto the target's tip (no
// working tree, no index: nobody's checkout is touched), a merge commit made from that tree, the quality
// gate run on it (merge "queue": in a scratch worktree of orch's own), and only then the target moved,
// with a compare-and-swap `git update-ref <ref> <new> <old>`: a target that moved meanwhile is never
// overwritten. A conflict is committed on the task's branch, markers and all, for the agent (or a
// person) to resolve there; a branch that still holds conflict markers is never merged.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { OrchConfig, Worktree } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { DEFAULT_MERGE_TARGET } from '../machine/workflow.js';
import { gitAnswer, gitNow, serialised } from '../git/run-git.js';
import { CHECKPOINT_AUTHOR, isTopOfRepository, parseWorktreeList, repositoryOf } from './task-worktree.js';
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
    const { tip, head } = await tips(repo, `refs/heads/${target}`, `refs/heads/${plan.branch}`, plan.base_sha);
    // Both read only: side by side, one wait instead of two.
    const [leftovers, merged] = await Promise.all([
      conflictMarkers(repo, tip.commit, head),
      gitAnswer(repo, ['merge-tree', '--write-tree', '--name-only', '--messages', tip.commit, head], { answers: [1] }),
    ]);
    if (leftovers.length > 0) return { kind: 'conflict', target, tip: tip.commit, files: leftovers, details: '', leftover: true };
    const [head_, ...rest] = merged.stdout.split('\n\n');
    const [tree = '', ...files] = (head_ ?? '').split('\n');
    if (merged.exitCode === 1) return { kind: 'conflict', target, tip: tip.commit, files, details: rest.join('\n\n').trim(), leftover: false };
    // A branch the target holds merges to the tip's own tree; only then is it worth asking git whether it does.
    if (tree === tip.tree && (await gitAnswer(repo, ['merge-base', '--is-ancestor', head, tip.commit], { answers: [1] })).exitCode === 0) {
      return { kind: 'merged_already', target, tip: tip.commit };
    }
    const commit = await gitNow(repo, ['commit-tree', tree, '-p', tip.commit, '-p', head, '-m', message], { env: CHECKPOINT_AUTHOR });
    return { kind: 'ready', target, tip: tip.commit, commit };
  });
}

/**
 * The config's merge targets that cannot be merged into (`orch validate`, the start of a run): a name
 * that is no branch name, a branch checked out in a working tree. Empty outside a git repository.
 */
export async function mergeTargetProblems(config: OrchConfig, repo: string): Promise<{ path: string; message: string; hint: string }[]> {
  const problems: { path: string; message: string; hint: string }[] = [];
  for (const [name, workflow] of Object.entries(config.workflows ?? {})) {
    if (workflow?.merge === undefined || workflow.merge === 'none') continue;
    const target = workflow.merge_target ?? DEFAULT_MERGE_TARGET;
    await refuseCheckedOut(repo, target).catch((error: unknown) => {
      if (!(error instanceof OrchError)) throw error;
      problems.push({ path: `/workflows/${name}/merge_target`, message: error.message, hint: error.hint ?? '' });
    });
  }
  return problems;
}

/** Targets git has said are valid branch names (asked once per target and process). */
const validTargets = new Set<string>();
/** Each repository's common git dir (where HEAD and worktrees/ are), asked once. */
const commonDirs = new Map<string, string>();

/** A branch checked out in the person's checkout or any worktree is not moved by orch. */
async function refuseCheckedOut(repo: string, target: string): Promise<void> {
  if (!validTargets.has(target)) {
    await gitNow(repo, ['check-ref-format', '--branch', target]).catch(() => {
      throw new OrchError('ORCH_CONFIG_INVALID', `merge_target "${target}" is not a valid branch name`, {
        details: { path: '/workflows/*/merge_target', target },
        hint: 'name a branch such as orch/integration in the workflow\'s merge_target',
      });
    });
    validTargets.add(target);
  }
  const holder = await checkoutOf(repo, `refs/heads/${target}`);
  if (holder !== undefined) {
    throw new OrchError('ORCH_CONFIG_INVALID', `merge_target ${target} is checked out at ${holder}: orch never moves a branch under someone's checkout`, {
      details: { path: '/workflows/*/merge_target', target, checkout: holder },
      hint: `check out another branch at ${holder}, or set merge_target to a branch no one has checked out (default ${DEFAULT_MERGE_TARGET}); take the queue's result with git merge ${target} when you choose`,
    });
  }
}

/**
 * The working tree that has `ref` checked out, if any: the main one's HEAD and each linked worktree's
 * (`<common dir>/worktrees/<name>/HEAD`, gitrepository-layout(5)), read as files: what `git worktree
 * list` reads, without a process per merge.
 */
async function checkoutOf(repo: string, ref: string): Promise<string | undefined> {
  let common = commonDirs.get(repo);
  if (common === undefined) {
    common = resolve(repo, await gitNow(repo, ['rev-parse', '--git-common-dir']));
    commonDirs.set(repo, common);
  }
  const points = (headFile: string): boolean => {
    try {
      return readFileSync(headFile, 'utf8').trim() === `ref: ${ref}`;
    } catch {
      return false;
    }
  };
  if (points(join(common, 'HEAD'))) return repo;
  const worktrees = join(common, 'worktrees');
  for (const name of existsSync(worktrees) ? readdirSync(worktrees) : []) {
    if (!points(join(worktrees, name, 'HEAD'))) continue;
    const gitdir = (() => {
      try {
        return readFileSync(join(worktrees, name, 'gitdir'), 'utf8').trim();
      } catch {
        return join(worktrees, name);
      }
    })();
    return dirname(gitdir);
  }
  return undefined;
}

/**
 * The target's tip (and its tree) and the task branch's head, in one call; a missing target is made at
 * `base` (compare-and-swap: only if it still does not exist).
 */
async function tips(repo: string, target: string, branch: string, base: string): Promise<{ tip: { commit: string; tree: string }; head: string }> {
  const read = async (): Promise<Map<string, { commit: string; tree: string }>> => {
    const refs = new Map<string, { commit: string; tree: string }>();
    for (const line of (await gitNow(repo, ['for-each-ref', '--format=%(refname) %(objectname) %(tree)', target, branch])).split('\n')) {
      const [ref, commit, tree] = line.split(' ');
      if (ref !== undefined && commit !== undefined && tree !== undefined) refs.set(ref, { commit, tree });
    }
    return refs;
  };
  let refs = await read();
  if (!refs.has(target)) {
    await gitNow(repo, ['update-ref', '-m', 'orch: merge target made from the first task\'s base', target, base, '']).catch(() => undefined);
    refs = await read();
  }
  const tip = refs.get(target);
  const head = refs.get(branch)?.commit;
  if (tip === undefined) throw new OrchError('ORCH_GIT_FAILED', `${target} could not be made at ${base}`, { details: { repo, ref: target } });
  if (head === undefined) throw new OrchError('ORCH_GIT_FAILED', `the task's branch ${branch} does not exist`, { details: { repo, ref: branch }, hint: 'it is made with the task\'s worktree: retry the task' });
  return { tip, head };
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
      // The merge may move a submodule: the gate must see the one the merged tree names.
      if (setup.submodules !== false && existsSync(join(path, '.gitmodules'))) await gitNow(repo, ['submodule', 'update', '--init', '--recursive'], { cwd: path });
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

/** mergeTargetProblems of the project at `root`, when it is a repository and a workflow merges. */
export async function mergeTargetProblemsAt(config: OrchConfig, root: string): Promise<{ path: string; message: string; hint: string }[]> {
  if (!Object.values(config.workflows ?? {}).some(workflow => (workflow?.merge ?? 'none') !== 'none') || !(await isTopOfRepository(root))) return [];
  return mergeTargetProblems(config, await repositoryOf(root));
}

/** What the run log says at the start of a run of each merge target that cannot be merged into. */
export async function describeMergeTargets(config: OrchConfig, root: string): Promise<string[]> {
  const problems = await mergeTargetProblemsAt(config, root).catch(() => []);
  return problems.map(p => `${p.message}: tasks of this workflow will wait for a person at their merge (${p.hint})`);
}
