// The engine's side of isolation worktree (src/worktree/task-worktree.ts, PRODUCT.md §14): a task's
// worktree planned, recorded and made (or reset to its last checkpoint) before each attempt, the
// quality gate run through the merge queue, what an implement attempt changed checkpointed on the
// task's branch, a DONE task's worktree removed, and the files each task's branch changed (part of its
// footprint, for the scheduler). Split out of engine.ts: it needs of the engine only what Host gives.
import type { OrchConfig, TaskRecord, Worktree } from '../generated/types.js';
import { isOrchError, OrchError } from '../errors.js';
import type { Footprint } from '../machine/footprint.js';
import type { PhaseRun, TaskEvent } from '../machine/transition.js';
import { DEFAULT_WORKFLOW } from '../machine/workflow.js';
import type { LogEntry } from '../runlog/run-log.js';
import { changedFilesOf, checkpoint, ensureWorktree, isolationOf, isTopOfRepository, planWorktree, removeWorktreeIfClean, repoFolder, repositoryOf, resetToCheckpoint } from '../worktree/task-worktree.js';
import { prepareWorktree, setupOf } from '../worktree/worktree-setup.js';
import { runAttempt, type AttemptFinishedEvent, type AttemptOptions } from './attempt.js';
import { mergeThroughGate } from './merge-step.js';

/** What the worktrees need of the engine. */
export interface WorktreeHost {
  root: string;
  env: NodeJS.ProcessEnv;
  config: () => OrchConfig;
  /** The engine's copy of a task's record. */
  record: (id: string) => TaskRecord | undefined;
  /** Applies `events` to the task's record (with `seed`, creating it); throws when it cannot be written. */
  write: (id: string, events: TaskEvent[], seed: TaskRecord | undefined) => Promise<TaskRecord | undefined>;
  log: (entry: LogEntry) => Promise<void>;
  reportOnce: (key: string, message: string, details: string[], taskId?: string) => Promise<void>;
}

export class TaskWorktrees {
  private readonly host: WorktreeHost;
  /** Whether the project root is the top of a git work tree (default isolation), looked at once a run. */
  private atTopOfRepository: Promise<boolean> | undefined;
  /** The repository of task worktrees, asked of git once a run rather than before and after every attempt. */
  private repositoryTop: Promise<string> | undefined;
  /** Per task, the files its checkpoints changed against its base: part of its footprint. */
  private readonly changedFiles = new Map<string, string[]>();

  constructor(host: WorktreeHost) {
    this.host = host;
  }

  /** What a task touches, as far as is known: its spec's `paths`, and the files its checkpoints changed. */
  footprintOf(record: TaskRecord): Footprint {
    return { globs: record.spec.paths ?? [], files: this.changedFiles.get(record.id) ?? [] };
  }

  /**
   * The task's worktree is planned and recorded the first time, before it is made (with the task's
   * start when it is NEW: that write then creates or starts the record), then made or adopted, and
   * reset to its last checkpoint, so every attempt starts from a whole tree. Returns the record as it
   * now is, and what is left for the attempt's own write. No worktree where the task does not get one.
   */
  async isolate(
    record: TaskRecord,
    startFirst: boolean,
    seed: TaskRecord | undefined,
  ): Promise<{ record: TaskRecord; worktree: Worktree | undefined; startFirst: boolean; seed: TaskRecord | undefined }> {
    const { root, env } = this.host;
    const config = this.host.config();
    // Looked at once a run: a `.git` that appears while tasks run (an agent's `git init`) must not move
    // the next attempt of a task somewhere else.
    this.atTopOfRepository ??= isTopOfRepository(root);
    if (isolationOf(config, record.spec.workflow ?? DEFAULT_WORKFLOW, await this.atTopOfRepository) !== 'worktree') return { record, worktree: undefined, startFirst, seed };
    // A task whose commands have run in the project root in this generation goes on there: its work so
    // far is there. (An attempt whose worktree could not be set up ran no command: it does not count.)
    if (record.worktree === undefined && record.attempts.some(a => (a.generation ?? 1) === record.generation && a.process !== undefined)) {
      return { record, worktree: undefined, startFirst, seed };
    }
    let current = record;
    if (current.worktree === undefined) {
      const plan = await planWorktree(root, record.id, config, env);
      const events: TaskEvent[] = startFirst ? [{ type: 'start' }, { type: 'worktree_planned', worktree: plan }] : [{ type: 'worktree_planned', worktree: plan }];
      const written = await this.host.write(record.id, events, seed);
      if (written?.worktree === undefined) throw new OrchError('ORCH_INTERNAL', `task ${record.id}: its worktree could not be recorded`);
      current = written;
    }
    const worktree = current.worktree;
    if (worktree === undefined) throw new OrchError('ORCH_INTERNAL', `task ${record.id}: no worktree recorded`);
    const repo = await this.repository();
    const setup = setupOf(config);
    await ensureWorktree(repo, worktree);
    await prepareWorktree(repo, worktree, setup);
    await resetToCheckpoint(repo, worktree, setup);
    if (!this.changedFiles.has(record.id) && current.attempts.some(a => a.checkpoint !== undefined)) await this.noteChangedFiles(record.id, repo, worktree); // a resumed task's earlier checkpoints
    return { record: current, worktree, startFirst: startFirst && current === record, seed: current === record ? seed : undefined };
  }

  /** The attempt; for the quality gate of a task whose branch is merged, through the merge queue. */
  async runPhase(run: PhaseRun, worktree: Worktree | undefined, attempt: AttemptOptions): Promise<AttemptFinishedEvent> {
    const workflow = attempt.workflow;
    if (run.phase !== 'quality_gate' || worktree === undefined || workflow.merge === 'none' || attempt.setupError !== undefined) return runAttempt(attempt);
    const config = this.host.config();
    const repo = await this.repository();
    const folder = repoFolder(this.host.root, repo, config, this.host.env);
    return mergeThroughGate({ repo, folder, workflow, setup: setupOf(config), worktree, attempt });
  }

  /**
   * After an implement attempt that succeeded, what it changed is committed on the task's branch (a
   * checkpoint), named on the attempt. A checkpoint that cannot be made fails the attempt (retryable):
   * work that is not saved does not count as done.
   */
  async checkpointAfter(record: TaskRecord, run: Pick<PhaseRun, 'phase' | 'step_id'>, n: number, worktree: Worktree, event: AttemptFinishedEvent): Promise<AttemptFinishedEvent> {
    if (run.phase !== 'implement' || event.reason !== 'succeeded') return event;
    const step = run.step_id === undefined ? '' : ` step ${run.step_id}`;
    try {
      const repo = await this.repository();
      const sha = await checkpoint(repo, worktree, `orch: task ${record.id}${step}, attempt ${n}`, setupOf(this.host.config()));
      if (sha === undefined) return event;
      await this.noteChangedFiles(record.id, repo, worktree);
      return { ...event, checkpoint: sha };
    } catch (error) {
      if (!isOrchError(error)) throw error;
      return { ...event, reason: 'failed', retryable: true, error: `the checkpoint of the attempt's changes failed: ${error.message}` };
    }
  }

  /**
   * A task DONE (its last command has ended) has all its work on its branch: its worktree is removed
   * if nothing in it would be lost, and the run log says where the work is. A worktree with changes
   * not checkpointed (a build's output the gate left, say) is kept and said so; FAILED and CANCELLED
   * tasks keep theirs for a person to look at. A failure to remove is reported, never fatal.
   */
  async removeWorktreeOfDone(id: string, worktree: Worktree): Promise<void> {
    if (this.host.record(id)?.state !== 'DONE') return;
    const repo = await this.repository().catch(() => undefined);
    if (repo === undefined) return;
    const removed = await removeWorktreeIfClean(repo, worktree, setupOf(this.host.config())).catch(async (error: unknown) => {
      await this.host.reportOnce(`${id}:worktree-remove`, `Task ${id}: its worktree ${worktree.path} could not be removed: ${(error as Error).message}`, ['`orch doctor` lists it; remove it with `git worktree remove` once you have looked'], id);
      return undefined;
    });
    if (removed === undefined) return;
    const merged = this.host.record(id)?.attempts.filter(attempt => attempt.merge !== undefined).at(-1)?.merge;
    const takeIt = merged === undefined ? `\`orch merge ${id}\` takes it into a clean checkout` : `merged into ${merged.target}`;
    await this.host.log({
      category: 'task',
      level: 'info',
      task_id: id,
      message: removed
        ? `Worktree of task ${id} removed: its work is on branch ${worktree.branch} (${takeIt})`
        : `Worktree of task ${id} kept at ${worktree.path}: it has changes not checkpointed (\`git -C ${worktree.path} status\`); its checkpointed work is on branch ${worktree.branch}`,
    });
  }

  private repository(): Promise<string> {
    this.repositoryTop ??= repositoryOf(this.host.root);
    // A failure (git gone for a moment) is not kept: the next attempt asks again.
    this.repositoryTop.catch(() => (this.repositoryTop = undefined));
    return this.repositoryTop;
  }

  /** Keeps the files the task's branch changed (its footprint); a git that fails here costs only that knowledge. */
  private async noteChangedFiles(id: string, repo: string, worktree: Worktree): Promise<void> {
    const files = await changedFilesOf(repo, worktree).catch(() => undefined);
    if (files !== undefined) this.changedFiles.set(id, files);
  }
}
