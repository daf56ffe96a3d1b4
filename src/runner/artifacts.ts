// Where one attempt's files go (PRODUCT.md §2): runs/<run-id>/<task-id>/<NNN>-<phase>[-<step>]/.
// Every name in the path is checked before it becomes a path.
import { join } from 'node:path';
import { assertSafeId } from '../store/paths.js';

export const ARTIFACT_FILES = {
  stdout: 'stdout.log',
  stderr: 'stderr.log',
  result: 'result.json',
  feedback: 'feedback.md',
  diff: 'diff.patch',
} as const;

export interface AttemptArtifacts {
  /** Relative to the state dir: what the attempt's `artifacts_dir` holds. */
  relativeDir: string;
  dir: string;
  stdout: string;
  stderr: string;
  result: string;
  feedback: string;
  /** A reviewer's diff of the task's branch against its base (isolation worktree). */
  diff: string;
}

export interface AttemptArtifactsOptions {
  runId: string;
  taskId: string;
  attempt: number;
  phase: string;
  stepId?: string | undefined;
}

/** The files of one attempt, under `stateDir`. Attempts sort by number (zero-padded to 3). */
export function attemptArtifacts(stateDir: string, options: AttemptArtifactsOptions): AttemptArtifacts {
  const run = assertSafeId(options.runId, 'run id');
  const task = assertSafeId(options.taskId, 'task id');
  const phase = assertSafeId(options.phase, 'phase');
  const step = options.stepId === undefined ? '' : `-${assertSafeId(options.stepId, 'step id')}`;
  const name = `${String(options.attempt).padStart(3, '0')}-${phase}${step}`;
  const relativeDir = join('runs', run, task, name);
  const dir = join(stateDir, relativeDir);
  return {
    relativeDir,
    dir,
    stdout: join(dir, ARTIFACT_FILES.stdout),
    stderr: join(dir, ARTIFACT_FILES.stderr),
    result: join(dir, ARTIFACT_FILES.result),
    feedback: join(dir, ARTIFACT_FILES.feedback),
    diff: join(dir, ARTIFACT_FILES.diff),
  };
}
