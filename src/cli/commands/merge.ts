// `orch merge ID`: takes a DONE task's branch into the person's own checkout, only when it is clean
// (src/worktree/merge-into-checkout.ts). Exit 0 merged (or nothing to merge), 1 on a conflict (the
// checkout is left as it was), 2 when it cannot be done (not DONE, no branch, a dirty checkout).
import { readRecord } from '../../runtime/decide.js';
import { mergeIntoCheckout } from '../../worktree/merge-into-checkout.js';
import { projectPaths } from '../context.js';
import { bad, good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export async function mergeCommand(id: string, options: GlobalOptions): Promise<number> {
  const paths = projectPaths(options);
  const outcome = await mergeIntoCheckout(paths.root, await readRecord(paths, id));
  if (options.json === true) printJson(outcome);
  else if (outcome.kind === 'merged') println(`${good('merged')} ${outcome.branch} into ${outcome.into} (${outcome.commit.slice(0, 12)})`);
  else if (outcome.kind === 'up_to_date') println(`${outcome.into} already has everything of ${outcome.branch}`);
  else {
    println(`${bad('conflict')} merging ${outcome.branch} into ${outcome.into}: ${outcome.files.join(', ')}`);
    println('the merge was aborted: your checkout is as it was. Merge it yourself to resolve the conflict (git merge ' + outcome.branch + ')');
  }
  return outcome.kind === 'conflict' ? 1 : 0;
}
