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
  /** leaked: a worktree no task needs, or a folder git does not know; missing: a record names a worktree that is gone. */
  kind: 'leaked' | 'missing';
  path: string;
  task: string;
  severity: 'error' | 'warning';
  message: string;
  action: string;
  /** Removable without losing anything: registered, and `git status` in it is empty. */
  removable: boolean;
}

/** A task's record, or what a run keeps of a finished task's (its id, state and since when). */
export type KnownTask = TaskRecord | Pick<TaskRecord, 'id' | 'state' | 'state_since'>;

/** The worktrees of `root`'s repository that orch made (branch orch/<id>) and no task needs, and stray folders. */
export async function checkWorktrees(root: string, config: OrchConfig, records: readonly KnownTask[], env: NodeJS.ProcessEnv, now = Date.now()): Promise<WorktreeFinding[]> {
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
    const kept = keptFor(record, config, now);
    if (kept !== undefined) continue; // still needed, or kept for a person to look at
    const clean =
      existsSync(entry.path) &&
      (await serialised(repo, async () => gitNow(repo, ['status', '--porcelain', '--', ...(await excludingOwnEntries(repo, entry.path, setup))], { cwd: entry.path })).then(
        out => out === '',
        () => false,
      ));
    const why =
      record === undefined
        ? `the worktree of task ${task}, which has no record any more`
        : record.state === 'DONE'
          ? `the worktree of task ${task}, which is DONE`
          : `the worktree of task ${task}, ${record.state} since ${record.state_since}: kept ${keepFailedHours(config)} h for a person to look at, and that time is over`;
    findings.push({
      kind: 'leaked',
      path: entry.path,
      task,
      severity: record === undefined ? 'error' : 'warning',
      message: `${why}${clean ? '' : ', with changes not committed'}`,
      action: clean ? '`orch doctor --fix` removes it (its branch stays)' : `look at it (git -C ${entry.path} status), then git worktree remove --force ${entry.path}`,
      removable: clean,
    });
  }
  findings.push(...(await missingWorktrees(repo, records, new Set(listed.map(entry => entry.path)))));
  const known = new Set(listed.map(entry => entry.path));
  const folder = repoFolder(root, repo, config, env);
  for (const name of existsSync(folder) ? readdirSync(folder) : []) {
    const path = join(folder, name);
    if (known.has(path)) continue;
    findings.push({
      kind: 'leaked',
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

/** worktree.keep_failed_h when left out. */
export const DEFAULT_KEEP_FAILED_H = 72;

function keepFailedHours(config: OrchConfig): number {
  return config.worktree?.keep_failed_h ?? DEFAULT_KEEP_FAILED_H;
}

/**
 * Why a task's worktree is still needed, or undefined when it is not: a task not finished works in
 * it; a FAILED or CANCELLED one keeps it for a person for worktree.keep_failed_h after it ended.
 */
function keptFor(record: KnownTask | undefined, config: OrchConfig, now: number): string | undefined {
  if (record === undefined || record.state === 'DONE') return undefined;
  if (record.state !== 'FAILED' && record.state !== 'CANCELLED') return 'in use';
  const until = Date.parse(record.state_since) + keepFailedHours(config) * 3_600_000;
  return until > now ? `kept for a person until ${new Date(until).toISOString()}` : undefined;
}

/**
 * Records of unfinished tasks whose worktree is gone: harmless while the branch holds the work (the
 * next attempt makes the worktree again from it), an error when the branch is gone too and the
 * record names checkpoints (that work is lost, and the task would start over from its base).
 */
async function missingWorktrees(repo: string, records: readonly KnownTask[], registered: ReadonlySet<string>): Promise<WorktreeFinding[]> {
  const findings: WorktreeFinding[] = [];
  for (const record of records) {
    if (!('attempts' in record)) continue; // a finished task's summary: it needs no worktree
    const plan = record.worktree;
    if (plan === undefined || ['DONE', 'FAILED', 'CANCELLED'].includes(record.state) || (registered.has(plan.path) && existsSync(plan.path))) continue;
    if (record.state === 'NEW') continue; // planned, not made yet: the first attempt makes it
    const branch = (await git(repo, ['branch', '--list', plan.branch])) !== '';
    const checkpoints = record.attempts.filter(a => a.checkpoint !== undefined).length;
    findings.push(
      branch || checkpoints === 0
        ? {
            kind: 'missing', path: plan.path, task: record.id, severity: 'warning', removable: false,
            message: `task ${record.id} names a worktree that is gone (${plan.path})`,
            action: `nothing to do: its next attempt makes it again from branch ${plan.branch}${branch ? '' : ' (made anew from its base: it had no checkpoint)'}`,
          }
        : {
            kind: 'missing', path: plan.path, task: record.id, severity: 'error', removable: false,
            message: `task ${record.id} names a worktree that is gone, and its branch ${plan.branch} with ${checkpoints} checkpoint(s) is gone too`,
            action: `restore the branch if you can (git reflog; the last checkpoint is ${record.attempts.filter(a => a.checkpoint !== undefined).at(-1)?.checkpoint ?? '?'}), or \`orch retry ${record.id}\` to start over from its base`,
          },
    );
  }
  return findings;
}

/** Removes a worktree `checkWorktrees` found removable, if it still is (as a DONE task's is removed); true when it is gone. */
export async function removeFoundWorktree(root: string, setup: WorktreeSetup, finding: WorktreeFinding): Promise<boolean> {
  if (!finding.removable) return false;
  return removeWorktreeIfClean(await repositoryOf(root), { path: finding.path }, setup);
}

/**
 * At the start of a run: the worktrees no task needs any more (a DONE task's a crash kept, a FAILED
 * one past worktree.keep_failed_h, one whose record is gone) removed where nothing in them would be
 * lost. What was removed, for the run log. Never fatal: a failure leaves the worktree to `orch doctor`.
 */
export async function sweepWorktrees(root: string, config: OrchConfig, records: readonly KnownTask[], env: NodeJS.ProcessEnv, now = Date.now()): Promise<string[]> {
  const findings = await checkWorktrees(root, config, records, env, now).catch(() => []);
  const lines: string[] = [];
  for (const finding of findings.filter(f => f.removable)) {
    if (await removeFoundWorktree(root, setupOf(config), finding).catch(() => false)) lines.push(`Removed ${finding.message} (${finding.path}): its branch stays`);
  }
  return lines;
}
