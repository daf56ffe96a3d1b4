// The quality gate of a task whose branch is merged (workflow `merge`: branch or queue; see
// src/worktree/merge-queue.ts and specs/isolation.md): in the merge queue, the branch is merged onto
// the target's tip without a working tree; a conflict is the gate's verdict (committed on the task's
// branch for the agent or a person), nothing runs; otherwise the gate runs (queue: on the merged tree,
// in orch's scratch worktree; branch: on the task's branch), and only a gate that passed moves the
// target, by compare-and-swap. What was merged is on the attempt (`merge`).
import type { Worktree } from '../generated/types.js';
import { isOrchError, OrchError } from '../errors.js';
import type { ResolvedWorkflow } from '../machine/workflow.js';
import { mergeCheckName } from '../machine/verdicts.js';
import { commitConflict, gateWorktreeAt, inMergeQueue, landMerge, prepareMerge, type PreparedMerge } from '../worktree/merge-queue.js';
import type { WorktreeSetup } from '../worktree/worktree-setup.js';
import { crashPoint } from '../testing/crash-points.js';
import { runAttempt, type AttemptFinishedEvent, type AttemptOptions } from './attempt.js';

export interface MergeStepOptions {
  /** The repository's top, and the folder orch's worktrees of it live in (the scratch goes there). */
  repo: string;
  folder: string;
  workflow: ResolvedWorkflow;
  setup: WorktreeSetup;
  /** The task's own worktree. */
  worktree: Worktree;
  /** The quality gate attempt as it would run without a merge. */
  attempt: AttemptOptions;
}

export async function mergeThroughGate(options: MergeStepOptions): Promise<AttemptFinishedEvent> {
  const { repo, workflow, worktree, attempt, setup } = options;
  const target = workflow.merge_target;
  const id = attempt.record.id;
  const message = `orch: merge task ${id} (${worktree.branch}) into ${target}`;
  const check = mergeCheckName(target);
  return inMergeQueue(repo, target, async () => {
    let prepared: PreparedMerge;
    try {
      prepared = await prepareMerge(repo, worktree, target, message);
    } catch (error) {
      return notPrepared(attempt, error, `the merge into ${target} could not be prepared`);
    }
    if (prepared.kind === 'conflict') {
      let checkpoint: string | undefined;
      if (!prepared.leftover) {
        try {
          checkpoint = await commitConflict(repo, worktree, target, setup);
        } catch (error) {
          return notPrepared(attempt, error, `the conflict with ${target} could not be committed on ${worktree.branch}`);
        }
      }
      const files = prepared.files.join(', ');
      const verdict = {
        checks: [{
          name: check,
          passed: false,
          runnable: true,
          message: prepared.leftover ? `conflict markers are left in ${files}` : `${worktree.branch} conflicts with ${target} in ${files}`,
          output_tail: conflictFeedback(prepared, worktree, target),
        }],
      };
      const event = await runAttempt({ ...attempt, verdict });
      return checkpoint === undefined ? event : { ...event, checkpoint };
    }
    if (prepared.kind === 'merged_already') {
      const event = await runAttempt({ ...attempt, verdict: { checks: [{ name: check, passed: true, message: `${worktree.branch} is in ${target} already` }] } });
      return { ...event, merge: { target, commit: prepared.tip, onto: prepared.tip } };
    }
    let gate: Worktree | undefined;
    if (workflow.merge === 'queue') {
      try {
        gate = await gateWorktreeAt(repo, options.folder, prepared, setup);
      } catch (error) {
        return notPrepared(attempt, error, `the scratch worktree to gate the merge into ${target} could not be made`);
      }
    }
    const event = await runAttempt({ ...attempt, ...(gate !== undefined && { worktree: gate }) });
    if (!gatePassed(event)) return event;
    const landed = await landMerge(repo, prepared, message).catch((error: unknown) => (isOrchError(error) ? error : Promise.reject(error)));
    if (landed === true) {
      crashPoint('merge.after-land');
      return { ...event, merge: { target, commit: prepared.commit, onto: prepared.tip } };
    }
    const why = landed === false ? `${target} moved while the gate ran (someone else updated it): the task is merged again onto its new tip` : `${target} could not be moved: ${landed.message}`;
    return { ...event, reason: 'failed', retryable: true, error: why };
  });
}

/** The gate passed: exit 0 and every check passed (a failed check is a verdict, not an error). */
function gatePassed(event: AttemptFinishedEvent): boolean {
  return event.reason === 'succeeded' && (event.result?.checks ?? []).every(check => check.passed) && event.result?.outcome !== 'failed';
}

/** A merge that could not be set up: the config's fault (a target checked out) waits for a person; git's passes. */
function notPrepared(attempt: AttemptOptions, error: unknown, what: string): Promise<AttemptFinishedEvent> {
  if (!isOrchError(error)) throw error;
  const setupError = `${what}: ${error.message}${error.hint === undefined ? '' : ` (${error.hint})`}`;
  return runAttempt({ ...attempt, setupError, setupRetryable: !isConfigProblem(error) });
}

function isConfigProblem(error: OrchError): boolean {
  return error.code === 'ORCH_CONFIG_INVALID' || error.code === 'ORCH_WORKTREE_SETUP';
}

/** What the next implement attempt (or the person) is told of a conflict. */
function conflictFeedback(prepared: Extract<PreparedMerge, { kind: 'conflict' }>, worktree: Worktree, target: string): string {
  const files = prepared.files.join(', ');
  const lines = prepared.leftover
    ? [`The task's branch ${worktree.branch} still holds conflict markers (<<<<<<<, =======, >>>>>>>) in: ${files}.`, 'Resolve every one of them, keeping what both sides meant, and leave no marker: a branch with markers is never merged.']
    : [
        `The task's branch ${worktree.branch} conflicts with ${target}, where finished tasks are merged, in: ${files}.`,
        `orch merged ${target} into the branch and committed the conflicts as they are: those files now hold conflict markers (<<<<<<<, =======, >>>>>>>).`,
        'Resolve every one of them, keeping what both sides meant (the other side is work of other tasks that passed their gate), and leave no marker.',
      ];
  return [...lines, ...(prepared.details === '' ? [] : ['', prepared.details])].join('\n');
}
