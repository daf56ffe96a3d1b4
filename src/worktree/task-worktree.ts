// A task's own git worktree (PRODUCT.md §14): branch orch/<id>, made from a base commit recorded in the
// task's record before anything is made, at a path outside the repository (an indexer or a watcher
// crawling nested worktrees filled peers' disks) and outside the state dir. Commands run there; after an
// implement step orch commits what changed (a checkpoint), and an attempt always starts from the last
// checkpoint. The person's checkout (working tree, index, HEAD) is never written: every call here runs
// in the task's worktree, or is `git worktree` / `rev-parse` on the repository.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { OrchConfig, Worktree } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { DEFAULT_MERGE_TARGET } from '../machine/workflow.js';
import { git, gitNow, serialised } from '../git/run-git.js';
import { adminDirOf, excludingOwnEntries, takeAwayOwnEntries, type WorktreeSetup } from './worktree-setup.js';

const NO_SETUP: WorktreeSetup = { copy: [], link: [], command: undefined };

export type Isolation = 'worktree' | 'none';

/**
 * The isolation a workflow asks for; by default (`atTop`: see isTopOfRepository) a worktree when the
 * project root is the top of a git work tree.
 */
export function isolationOf(config: OrchConfig, workflowName: string, atTop: boolean): Isolation {
  return config.workflows?.[workflowName]?.isolation ?? (atTop ? 'worktree' : 'none');
}

/**
 * Whether `root` is the top of a git work tree. Only the top: a project in a subfolder of another
 * repository (or a test dir inside this one) is not taken for that repository's, and a `.git` that is
 * no repository (an empty folder a tool made) is not one: git's own answer must be `root` itself.
 */
export async function isTopOfRepository(root: string): Promise<boolean> {
  if (!existsSync(join(root, '.git'))) return false;
  const top = await repositoryOf(root).catch(() => undefined);
  return top !== undefined && top === realpathSync(root);
}

/** The folder task worktrees go in: config `worktree_root`, else $XDG_STATE_HOME/orch/worktrees. */
export function worktreeRoot(config: OrchConfig, root: string, env: NodeJS.ProcessEnv): string {
  if (config.worktree_root !== undefined) return resolve(root, config.worktree_root);
  const state = env.XDG_STATE_HOME !== undefined && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME ?? homedir(), '.local', 'state');
  return join(state, 'orch', 'worktrees');
}

/** A name for the repository that two repositories of the same name do not share. */
function repoId(repo: string): string {
  return `${basename(repo)}-${createHash('sha256').update(repo).digest('hex').slice(0, 10)}`;
}

/** The folder that holds the task worktrees of the repository `repo` (of the project at `root`). */
export function repoFolder(root: string, repo: string, config: OrchConfig, env: NodeJS.ProcessEnv): string {
  return join(worktreeRoot(config, root, env), repoId(repo));
}

function inside(parent: string, path: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Where task `taskId` of the repository at `root` works, and from which commit: the repository's
 * current HEAD (committed work only: the person's uncommitted changes are not in it).
 */
export async function planWorktree(root: string, taskId: string, config: OrchConfig, env: NodeJS.ProcessEnv): Promise<Worktree> {
  const repo = await repositoryOf(root);
  const path = join(repoFolder(root, repo, config, env), taskId);
  if (inside(repo, path)) {
    throw new OrchError('ORCH_CONFIG_INVALID', `worktree_root puts task worktrees inside the repository (${path})`, {
      details: { path: '/worktree_root' },
      hint: 'set worktree_root to a folder outside the repository: tools that crawl it would crawl every worktree',
    });
  }
  const base = await git(repo, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).catch(() => undefined);
  if (base === undefined) {
    throw new OrchError('ORCH_GIT_FAILED', `the repository at ${repo} has no commit yet: a task's branch is made from one`, {
      details: { repo },
      hint: 'commit once (git commit --allow-empty -m init), or set "isolation": "none" in the workflow',
    });
  }
  return { path, branch: `orch/${taskId}`, base_sha: base };
}

/** The top of the git work tree `root` is in. */
export async function repositoryOf(root: string): Promise<string> {
  return git(root, ['rev-parse', '--show-toplevel']);
}

/** Whether the person's checkout has changes not committed (they are not in a task's base). */
export async function checkoutIsDirty(repo: string): Promise<boolean> {
  return (await git(repo, ['status', '--porcelain', '--untracked-files=no'])) !== '';
}

/**
 * Makes sure the worktree of `plan` exists, on its branch: adopted when it does (a run that crashed, a
 * later attempt), made (`git worktree add --lock`) when it does not, after pruning what a crash left
 * half made. A folder at the path that is not that worktree is refused, never removed.
 */
export async function ensureWorktree(repo: string, plan: Worktree): Promise<void> {
  await serialised(repo, async () => {
    const listed = parseWorktreeList(await gitNow(repo, ['worktree', 'list', '--porcelain']));
    const found = listed.find(entry => entry.path === plan.path);
    if (found !== undefined && existsSync(plan.path)) {
      if (found.branch !== `refs/heads/${plan.branch}`) {
        throw new OrchError('ORCH_GIT_FAILED', `the worktree at ${plan.path} is on ${found.branch ?? 'a detached HEAD'}, not ${plan.branch}`, {
          details: { repo, path: plan.path },
          hint: `check it out on ${plan.branch} again, or remove it (git worktree remove) so orch makes it anew`,
        });
      }
      return;
    }
    // A worktree registered but gone (a crash, a person's rm -r): ours are locked, and git never prunes
    // a locked one, so it is unlocked first (the lock guards a folder that is no longer there).
    if (found !== undefined) await gitNow(repo, ['worktree', 'unlock', plan.path]).catch(() => undefined);
    await gitNow(repo, ['worktree', 'prune']);
    if (existsSync(plan.path) && readdirSync(plan.path).length > 0) {
      throw new OrchError('ORCH_GIT_FAILED', `${plan.path} exists and is not the task's worktree`, {
        details: { repo, path: plan.path },
        hint: 'move it away: orch never removes a folder it did not make',
      });
    }
    const branchExists = (await gitNow(repo, ['branch', '--list', plan.branch])) !== '';
    await gitNow(repo, ['worktree', 'add', '--lock', ...(branchExists ? [plan.path, plan.branch] : ['-b', plan.branch, plan.path, plan.base_sha])]);
  });
}

/** The task's worktree as its last checkpoint left it: what a failed attempt half-edited is undone. */
export async function resetToCheckpoint(repo: string, plan: Worktree, setup: WorktreeSetup = NO_SETUP): Promise<void> {
  await serialised(repo, async () => {
    await gitNow(repo, ['reset', '--hard', '--quiet', 'HEAD'], { cwd: plan.path });
    await gitNow(repo, ['clean', '-fd', '--quiet', '--', ...(await excludingOwnEntries(repo, plan.path, setup))], { cwd: plan.path });
  });
}

/**
 * `git worktree unlock`'s own work, without a process: the worktree's `.git` file names its admin dir
 * (`gitdir: <repo>/.git/worktrees/<name>`, the documented gitfile format), whose `locked` file is the
 * lock. A git spawn costs about as much as the removal it precedes. False when the layout is not that
 * (then git is asked).
 */
function unlockByGitfile(worktree: string): boolean {
  const admin = adminDirOf(worktree);
  if (admin === undefined) return false;
  try {
    rmSync(join(admin, 'locked'), { force: true });
    return true;
  } catch {
    return false;
  }
}

/** Who checkpoints (and merge commits) are by: orch makes them, whoever's agent did the work. */
export const CHECKPOINT_AUTHOR = { GIT_AUTHOR_NAME: 'orch', GIT_AUTHOR_EMAIL: 'orch@localhost', GIT_COMMITTER_NAME: 'orch', GIT_COMMITTER_EMAIL: 'orch@localhost' };

/** Commits what changed in the worktree on the task's branch; the new commit, or undefined when nothing changed. */
export async function checkpoint(repo: string, plan: Worktree, message: string, setup: WorktreeSetup = NO_SETUP): Promise<string | undefined> {
  return serialised(repo, async () => {
    const mine = await excludingOwnEntries(repo, plan.path, setup); // the copies and links are orch's, never the task's work
    if ((await gitNow(repo, ['status', '--porcelain', '--', ...mine], { cwd: plan.path })) === '') return undefined;
    await gitNow(repo, ['add', '--all', '--', ...mine], { cwd: plan.path });
    await gitNow(repo, ['commit', '--quiet', '--no-verify', '-m', message], { cwd: plan.path, env: CHECKPOINT_AUTHOR });
    return gitNow(repo, ['rev-parse', 'HEAD'], { cwd: plan.path });
  });
}

export interface ListedWorktree {
  path: string;
  branch?: string;
}

/** `git worktree list --porcelain`: blocks of `worktree <path>`, `HEAD <sha>`, `branch <ref>` lines. */
export function parseWorktreeList(text: string): ListedWorktree[] {
  return text
    .split('\n\n')
    .map(block => {
      const lines = block.split('\n');
      const path = lines.find(line => line.startsWith('worktree '))?.slice('worktree '.length);
      const branch = lines.find(line => line.startsWith('branch '))?.slice('branch '.length);
      return path === undefined ? undefined : { path, ...(branch !== undefined && { branch }) };
    })
    .filter((entry): entry is ListedWorktree => entry !== undefined);
}

/**
 * What the run log says at the start of a run, once: each workflow's isolation and why, and, when tasks
 * get worktrees, whether the person's checkout has uncommitted changes (they are not in the tasks' base).
 */
export async function describeIsolation(config: OrchConfig, root: string, env: NodeJS.ProcessEnv, machineDir?: string): Promise<string[]> {
  const names = Object.keys(config.workflows ?? {});
  const atTop = await isTopOfRepository(root);
  const lines = names.map(name => {
    const isolation = isolationOf(config, name, atTop);
    const why = config.workflows?.[name]?.isolation !== undefined ? 'as configured' : isolation === 'worktree' ? 'the project is a git repository' : 'the project root is not the top of a git repository';
    const what = isolation === 'worktree' ? `each task in its own git worktree, on branch orch/<id>, under ${worktreeRoot(config, root, env)}` : 'commands run in the project root';
    const merge = config.workflows?.[name]?.merge ?? 'none';
    const target = config.workflows?.[name]?.merge_target ?? DEFAULT_MERGE_TARGET;
    const merged =
      isolation !== 'worktree' || merge === 'none'
        ? ''
        : `; merged into ${target} one task at a time, ${merge === 'queue' ? 'the quality gate run on the merged tree' : 'after the quality gate passed on the branch'}, the branch moved only by compare-and-swap`;
    return `Isolation of workflow ${name}: ${isolation} (${why}): ${what}${merged}`;
  });
  if (names.some(name => isolationOf(config, name, atTop) === 'worktree')) {
    const dirty = await repositoryOf(root).then(checkoutIsDirty, () => false);
    if (dirty) lines.push('The checkout has uncommitted changes: they are not in the tasks\' base (a task\'s branch starts from the last commit), and orch never touches them');
    // Records committed to git would be checked out in every worktree: stale copies an agent could take for the live state.
    const machine = machineDir === undefined ? '' : relative(root, machineDir);
    const tracked = machine === '' ? '' : await git(root, ['ls-files', '--', machine]).catch(() => '');
    if (tracked !== '') {
      lines.push(`git tracks files of orch's state (${machine}/): each task's worktree gets a stale copy of them; orch reads and writes only the project root's. Add ${machine}/ to .gitignore and git rm -r --cached ${machine}`);
    }
  }
  return lines;
}

/**
 * Removes the task's worktree when nothing in it would be lost: everything checkpointed (no change
 * and no untracked file outside .gitignore). The branch stays: it holds the task's work. False, and
 * nothing touched, when the worktree has changes or is gone already.
 */
export async function removeWorktreeIfClean(repo: string, plan: Pick<Worktree, 'path'>, setup: WorktreeSetup = NO_SETUP): Promise<boolean> {
  return serialised(repo, async () => {
    if (!existsSync(plan.path)) return false;
    if (setup.copy.length + setup.link.length > 0) {
      // The copies and links go first (git would count them as untracked changes), only once the
      // rest is known to be clean: a worktree with changes keeps everything.
      if ((await gitNow(repo, ['status', '--porcelain', '--', ...(await excludingOwnEntries(repo, plan.path, setup))], { cwd: plan.path })) !== '') return false;
      takeAwayOwnEntries(plan, setup);
    }
    // Made locked: unlocked first. `git worktree remove` (never --force) is itself the check that
    // nothing would be lost: it refuses a worktree with changes, which is then locked again.
    if (!unlockByGitfile(plan.path)) await gitNow(repo, ['worktree', 'unlock', plan.path]).catch(() => undefined);
    const refused = await gitNow(repo, ['worktree', 'remove', plan.path]).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (refused === undefined) return true;
    await gitNow(repo, ['worktree', 'lock', plan.path]).catch(() => undefined);
    if (refused instanceof Error && /contains modified or untracked files/.test(refused.message)) return false;
    throw refused;
  });
}

/** The task's branch (its last checkpoint) as a diff against its base commit. */
export async function diffAgainstBase(plan: Worktree): Promise<string> {
  const text = await git(plan.path, ['diff', '--no-color', '--no-ext-diff', plan.base_sha, 'HEAD'], { cwd: plan.path });
  return text === '' ? '' : `${text}\n`; // git's last newline back: the file is a patch `git apply` takes
}

/** The task's branch as a diff against its base, from the repository (its worktree may be gone: a DONE task's). */
export async function branchDiff(repo: string, plan: Worktree): Promise<string> {
  return git(repo, ['diff', '--no-color', '--no-ext-diff', plan.base_sha, `refs/heads/${plan.branch}`]);
}

/** The files the task's branch changed against its base (its footprint once it has checkpoints). */
export async function changedFilesOf(repo: string, plan: Worktree): Promise<string[]> {
  const names = await git(repo, ['diff', '--name-only', '--no-renames', plan.base_sha, `refs/heads/${plan.branch}`]);
  return names === '' ? [] : names.split('\n');
}
