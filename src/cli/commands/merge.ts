// `orch merge ID`: takes a DONE task's branch into the person's own checkout, only when it is clean;
// `orch merge --target [BRANCH]`: the merge queue's target the same way, when the person chooses
// (src/worktree/merge-into-checkout.ts). Exit 0 merged (or nothing to merge), 1 on a conflict (the
// checkout is left as it was), 2 when it cannot be done (not DONE, no branch, a dirty checkout).
import { readRecord } from '../../runtime/decide.js';
import { OrchError } from '../../errors.js';
import { DEFAULT_MERGE_TARGET } from '../../machine/workflow.js';
import { loadDocument } from '../../store/load.js';
import { mergeIntoCheckout, mergeTargetIntoCheckout } from '../../worktree/merge-into-checkout.js';
import { projectPaths } from '../context.js';
import { bad, good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface MergeCommandOptions extends GlobalOptions {
  /** `--target [branch]`: the merge queue's target instead of a task's branch (true: the config's). */
  target?: string | boolean;
}

export async function mergeCommand(id: string | undefined, options: MergeCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  if (options.target !== undefined && id !== undefined) throw new OrchError('ORCH_USAGE', 'orch merge takes a task id or --target, not both', { hint: 'orch merge ID, or orch merge --target [BRANCH]' });
  if (options.target === undefined && id === undefined) throw new OrchError('ORCH_USAGE', 'orch merge needs a task id, or --target', { hint: 'orch merge ID, or orch merge --target [BRANCH]' });
  const outcome =
    id !== undefined
      ? await mergeIntoCheckout(paths.root, await readRecord(paths, id))
      : await mergeTargetIntoCheckout(paths.root, typeof options.target === 'string' ? options.target : await configuredTarget(paths.config));
  if (options.json === true) printJson(outcome);
  else if (outcome.kind === 'merged') println(`${good('merged')} ${outcome.branch} into ${outcome.into} (${outcome.commit.slice(0, 12)})`);
  else if (outcome.kind === 'up_to_date') println(`${outcome.into} already has everything of ${outcome.branch}`);
  else {
    println(`${bad('conflict')} merging ${outcome.branch} into ${outcome.into}: ${outcome.files.join(', ')}`);
    println('the merge was aborted: your checkout is as it was. Merge it yourself to resolve the conflict (git merge ' + outcome.branch + ')');
  }
  return outcome.kind === 'conflict' ? 1 : 0;
}

/** The merge target the config names (the default workflow's first, then any workflow's), else orch/integration. */
async function configuredTarget(configPath: string): Promise<string> {
  const workflows = (await loadDocument('config', configPath)).doc.workflows ?? {};
  const named = [workflows.default, ...Object.values(workflows)].find(workflow => workflow?.merge !== undefined && workflow.merge !== 'none');
  return named?.merge_target ?? DEFAULT_MERGE_TARGET;
}
