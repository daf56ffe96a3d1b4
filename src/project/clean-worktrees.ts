// `orch clean --worktrees` (PRODUCT.md §14): the task worktrees no task needs any more (a DONE task's
// a crash kept, a FAILED or CANCELLED one past worktree.keep_failed_h, one whose record is gone),
// removed where nothing in them would be lost; the rest listed with the reason they stay. Branches
// always stay: they hold the work. Planned apart from the removal so the CLI can show and ask first.
import { loadAll, loadDocument } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { checkWorktrees, removeFoundWorktree, type WorktreeFinding } from '../worktree/worktree-check.js';
import { setupOf } from '../worktree/worktree-setup.js';

export interface WorktreeCleanPlan {
  remove: WorktreeFinding[];
  kept: WorktreeFinding[];
  setup: ReturnType<typeof setupOf>;
}

export async function planWorktreeClean(paths: StatePaths, now = Date.now()): Promise<WorktreeCleanPlan> {
  const config = (await loadDocument('config', paths.config)).doc;
  const records = (await loadAll('record', paths.records)).items.map(item => item.doc);
  const findings = (await checkWorktrees(paths.root, config, records, process.env, now)).filter(f => f.kind === 'leaked');
  return { remove: findings.filter(f => f.removable), kept: findings.filter(f => !f.removable), setup: setupOf(config) };
}

/** Removes what the plan says, each only if it still loses nothing; the paths removed. */
export async function applyWorktreeClean(paths: StatePaths, plan: WorktreeCleanPlan): Promise<string[]> {
  const removed: string[] = [];
  for (const finding of plan.remove) if (await removeFoundWorktree(paths.root, plan.setup, finding)) removed.push(finding.path);
  return removed;
}
