// What `orch doctor` says of task worktrees (PRODUCT.md §14): worktrees of orch's that no task needs
// any more (a task record gone, a DONE task whose worktree a crash or a change kept), and folders in
// orch's worktree folder that git does not know (a `git worktree add` a crash cut short). Removal is
// offered only where nothing can be lost: a worktree with no change, never with --force.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchConfig, TaskRecord } from '../generated/types.js';
import { git, gitNow, serialised } from '../git/run-git.js';
import { isTopOfRepository, isolationOf, parseWorktreeList, removeWorktreeIfClean, repoFolder, repositoryOf } from './task-worktree.js';
import { excludingOwnEntries, setupOf, type WorktreeSetup } from './worktree-setup.js';

export interface WorktreeFinding {
  path: string;
  task: string;
  severity: 'error' | 'warning';
  message: string;
  action: string;
  /** Removable without losing anything: registered, and `git status` in it is empty. */
  removable: boolean;
}

/** The worktrees of `root`'s repository that orch made (branch orch/<id>) and no task needs, and stray folders. */
export async function checkWorktrees(root: string, config: OrchConfig, records: readonly TaskRecord[], env: NodeJS.ProcessEnv): Promise<WorktreeFinding[]> {
  const atTop = await isTopOfRepository(root);
  const isolated = Object.keys(config.workflows ?? {}).some(name => isolationOf(config, name, atTop) === 'worktree');
  if (!isolated) return [];
  const repo = await repositoryOf(root).catch(() => undefined);
  if (repo === undefined) return [];
  const byId = new Map(records.map(record => [record.id, record]));
  const setup = setupOf(config);
  const listed = parseWorktreeList(await git(repo, ['worktree', 'list', '--porcelain']));
  const findings: WorktreeFinding[] = [];
  for (const entry of listed) {
    const task = entry.branch?.startsWith('refs/heads/orch/') === true ? entry.branch.slice('refs/heads/orch/'.length) : undefined;
    if (task === undefined) continue; // the person's own worktrees are theirs
    const record = byId.get(task);
    if (record !== undefined && record.state !== 'DONE') continue; // still needed (FAILED and CANCELLED keep theirs for a person)
    const clean =
      existsSync(entry.path) &&
      (await serialised(repo, async () => gitNow(repo, ['status', '--porcelain', '--', ...(await excludingOwnEntries(repo, entry.path, setup))], { cwd: entry.path })).then(
        out => out === '',
        () => false,
      ));
    const why = record === undefined ? `the worktree of task ${task}, which has no record any more` : `the worktree of task ${task}, which is DONE`;
    findings.push({
      path: entry.path,
      task,
      severity: record === undefined ? 'error' : 'warning',
      message: `${why}${clean ? '' : ', with changes not committed'}`,
      action: clean ? '`orch doctor --fix` removes it (its branch stays)' : `look at it (git -C ${entry.path} status), then git worktree remove --force ${entry.path}`,
      removable: clean,
    });
  }
  const known = new Set(listed.map(entry => entry.path));
  const folder = repoFolder(root, repo, config, env);
  for (const name of existsSync(folder) ? readdirSync(folder) : []) {
    const path = join(folder, name);
    if (known.has(path)) continue;
    findings.push({
      path,
      task: name,
      severity: 'error',
      message: `a folder in orch's worktree folder that git does not know as a worktree (a worktree add cut short, or one removed from git by hand)`,
      action: `git worktree prune, look at it, then remove it: orch never removes a folder git does not know`,
      removable: false,
    });
  }
  return findings;
}

/** Removes a worktree `checkWorktrees` found removable, if it still is (as a DONE task's is removed); true when it is gone. */
export async function removeFoundWorktree(root: string, setup: WorktreeSetup, finding: WorktreeFinding): Promise<boolean> {
  if (!finding.removable) return false;
  return removeWorktreeIfClean(await repositoryOf(root), { path: finding.path }, setup);
}
