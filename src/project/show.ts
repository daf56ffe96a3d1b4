// `orch show ID`: everything about one task, from its record (and its spec file, to tell whether the
// spec changed since the record took it). Library code: it collects, the CLI prints.
import { join, relative, resolve, sep } from 'node:path';
import { OrchError, isOrchError } from '../errors.js';
import type { Attempt, Awaiting, CheckResult, ErrorNote, MergeLanded, Review, Step, TaskRecord, TaskSpec, TaskState, Transition, Worktree } from '../generated/types.js';
import { firstLine } from '../machine/messages.js';
import { PHASE_INFO } from '../machine/states.js';
import { loadIfExists } from '../store/load.js';
import { assertSafeId, recordPath, type StatePaths } from '../store/paths.js';
import { loadSpecFile, loadSpecs } from '../store/specs.js';

export interface AttemptView {
  n: number;
  generation: number | null;
  phase: string;
  step: string | null;
  worker: string | null;
  /** Where its command ran: the host (a remote executor), null on this machine. */
  host: string | null;
  started_at: string;
  ended_at: string | null;
  duration_s: number | null;
  /** null while it runs. */
  reason: string | null;
  exit_code: number | null;
  signal: string | null;
  outcome: string | null;
  error: string | null;
  model: string | null;
  provider: string | null;
  cost_usd: number | null;
  tokens: number | null;
  checks: CheckResult[];
  /** The commit orch made on the task's branch of what the attempt changed (isolation worktree). */
  checkpoint: string | null;
  /** The merge into the target this quality gate attempt landed (merge branch or queue). */
  merge: MergeLanded | null;
  /** Absolute path of the attempt's stdout.log, stderr.log and result.json. */
  artifacts_dir: string;
}

export interface RoleCost {
  phase: string;
  role: string;
  model: string | null;
  provider: string | null;
  usd: number;
  tokens: number;
  calls: number;
}

/** The spec as the record took it: what it asks for, without `env` values (they may hold secrets). */
export interface SpecSummary {
  title: string | null;
  goal: string | null;
  workflow: string;
  priority: number;
  depends_on: string[];
  risk: string | null;
  area: string | null;
  planned_steps: number;
  timeout_s: number | null;
  deadline_s: number | null;
  max_cost_usd: number | null;
  max_tokens: number | null;
  env_keys: string[];
}

/** Whether the spec file still says what the record took: same, changed (runs again), missing, invalid. */
export type SpecFileState = 'same' | 'changed' | 'missing' | 'invalid';

export interface TaskDetail {
  id: string;
  title: string;
  /** False for a spec the orchestrator has not taken up yet: only `spec` and `spec_file` are known. */
  recorded: boolean;
  spec_file: string;
  spec_file_state: SpecFileState;
  spec: SpecSummary;
  /** The task's own worktree, branch and base commit (isolation worktree). */
  worktree: Worktree | null;
  state: TaskState | null;
  state_since: string | null;
  generation: number | null;
  rev: number | null;
  created_at: string | null;
  updated_at: string | null;
  phase: string | null;
  step: string | null;
  phase_attempts: number;
  next_attempt_at: string | null;
  deadline_at: string | null;
  awaiting: Awaiting | null;
  last_error: ErrorNote | null;
  last_review: Review | null;
  feedback: string | null;
  counters: TaskRecord['counters'] | null;
  cost: { usd: number; tokens: number; by_role: RoleCost[] };
  steps: Step[];
  attempts: AttemptView[];
  history: Transition[];
}

export const TASK_DETAIL_FIELDS = [
  'id', 'title', 'recorded', 'spec_file', 'spec_file_state', 'spec', 'worktree', 'state', 'state_since', 'generation', 'rev', 'created_at',
  'updated_at', 'phase', 'step', 'phase_attempts', 'next_attempt_at', 'deadline_at', 'awaiting', 'last_error', 'last_review',
  'feedback', 'counters', 'cost', 'steps', 'attempts', 'history',
] as const satisfies readonly (keyof TaskDetail)[];

function seconds(from: string, to: string | undefined): number | null {
  if (to === undefined) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : null;
}

/** An attempt's artifacts dir as an absolute path, refused if it points outside the state dir. */
export function artifactsDirOf(paths: StatePaths, attempt: Pick<Attempt, 'artifacts_dir'>): string {
  const dir = resolve(paths.stateDir, attempt.artifacts_dir);
  if (!dir.startsWith(paths.stateDir + sep)) {
    throw new OrchError('ORCH_SCHEMA_INVALID', `artifacts_dir ${JSON.stringify(attempt.artifacts_dir)} points outside ${paths.stateDir}`, {
      details: { artifacts_dir: attempt.artifacts_dir },
    });
  }
  return dir;
}

export function attemptView(paths: StatePaths, attempt: Attempt): AttemptView {
  let dir: string;
  try {
    dir = artifactsDirOf(paths, attempt);
  } catch {
    dir = '';
  }
  return {
    n: attempt.n,
    generation: attempt.generation ?? null,
    phase: attempt.phase,
    step: attempt.step_id ?? null,
    worker: attempt.worker ?? null,
    host: attempt.remote?.host ?? null,
    started_at: attempt.started_at,
    ended_at: attempt.ended_at ?? null,
    duration_s: seconds(attempt.started_at, attempt.ended_at),
    reason: attempt.reason ?? null,
    exit_code: attempt.exit_code ?? null,
    signal: attempt.signal ?? null,
    outcome: attempt.outcome ?? null,
    error: attempt.error === undefined ? null : firstLine(attempt.error),
    model: attempt.model ?? null,
    provider: attempt.provider ?? null,
    cost_usd: attempt.cost_usd ?? null,
    tokens: attempt.tokens ?? null,
    checks: attempt.checks ?? [],
    checkpoint: attempt.checkpoint ?? null,
    merge: attempt.merge ?? null,
    artifacts_dir: dir,
  };
}

function specSummary(spec: TaskSpec): SpecSummary {
  return {
    title: spec.title ?? null,
    goal: spec.goal ?? null,
    workflow: spec.workflow ?? 'default',
    priority: spec.priority ?? 0,
    depends_on: spec.depends_on ?? [],
    risk: spec.risk ?? null,
    area: spec.area ?? null,
    planned_steps: spec.steps?.length ?? 0,
    timeout_s: spec.timeout_s ?? null,
    deadline_s: spec.deadline_s ?? null,
    max_cost_usd: spec.max_cost_usd ?? null,
    max_tokens: spec.max_tokens ?? null,
    env_keys: Object.keys(spec.env ?? {}).sort(),
  };
}

function roleOf(phase: string): string {
  return (PHASE_INFO as Record<string, { role: string } | undefined>)[phase]?.role ?? phase;
}

async function specFileState(path: string, hash: string): Promise<SpecFileState> {
  try {
    return (await loadSpecFile(path)).hash === hash ? 'same' : 'changed';
  } catch (error) {
    return isOrchError(error) && error.code === 'ORCH_NOT_FOUND' ? 'missing' : 'invalid';
  }
}

function fromRecord(paths: StatePaths, record: TaskRecord, specState: SpecFileState): TaskDetail {
  const stepIndex = record.step_index;
  const inStep = (record.phase === 'implement' || record.phase === 'step_review') && stepIndex !== undefined;
  return {
    id: record.id,
    title: record.spec.title ?? firstLine(record.spec.goal ?? ''),
    recorded: true,
    spec_file: relative(paths.root, join(paths.stateDir, record.spec_file)),
    spec_file_state: specState,
    spec: specSummary(record.spec),
    worktree: record.worktree ?? null,
    state: record.state,
    state_since: record.state_since,
    generation: record.generation,
    rev: record.rev,
    created_at: record.created_at,
    updated_at: record.updated_at,
    phase: record.phase ?? null,
    step: inStep ? (record.steps[stepIndex]?.id ?? null) : null,
    phase_attempts: record.phase_attempts ?? 0,
    next_attempt_at: record.next_attempt_at ?? null,
    deadline_at: record.deadline_at ?? null,
    awaiting: record.awaiting ?? null,
    last_error: record.last_error ?? null,
    last_review: record.last_review ?? null,
    feedback: record.feedback ?? null,
    counters: record.counters,
    cost: {
      usd: record.cost.usd,
      tokens: record.cost.tokens,
      by_role: Object.entries(record.cost.by_role).flatMap(([phase, cost]) =>
        cost === undefined ? [] : [{ phase, role: roleOf(phase), model: cost.model ?? null, provider: cost.provider ?? null, usd: cost.usd, tokens: cost.tokens, calls: cost.calls }],
      ),
    },
    steps: record.steps,
    attempts: record.attempts.map(attempt => attemptView(paths, attempt)),
    history: record.history,
  };
}

/**
 * Everything about task `id`: from its record, or from its spec alone when the orchestrator has not
 * taken it up yet. ORCH_NOT_FOUND (exit 2) when neither exists; an invalid record's error is thrown.
 */
export async function describeTask(paths: StatePaths, id: string): Promise<TaskDetail> {
  assertSafeId(id, 'task id');
  const loaded = await loadIfExists('record', recordPath(paths, id));
  if (loaded !== undefined) {
    const record = loaded.doc;
    return fromRecord(paths, record, await specFileState(join(paths.stateDir, record.spec_file), record.spec_hash));
  }
  const spec = (await loadSpecs(paths.tasks)).specs.find(s => s.id === id);
  if (spec === undefined) {
    throw new OrchError('ORCH_NOT_FOUND', `no task "${id}": no record in ${relative(paths.root, paths.records)}/ and no spec with that id in ${relative(paths.root, paths.tasks)}/`, {
      details: { id },
      hint: 'run `orch status` to list the tasks',
    });
  }
  return {
    id,
    title: spec.spec.title ?? firstLine(spec.spec.goal ?? ''),
    recorded: false,
    spec_file: relative(paths.root, spec.path),
    spec_file_state: 'same',
    spec: specSummary(spec.spec),
    worktree: null,
    state: null, state_since: null, generation: null, rev: null, created_at: null, updated_at: null, phase: null, step: null,
    phase_attempts: 0, next_attempt_at: null, deadline_at: null, awaiting: null, last_error: null, last_review: null, feedback: null,
    counters: null, cost: { usd: 0, tokens: 0, by_role: [] }, steps: [], attempts: [], history: [],
  };
}
