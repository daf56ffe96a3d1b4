// One attempt of one phase: compose the command, run it in its own process group (its identity written
// to the record before we wait on it), read its result file, classify how it ended, and return the
// attempt_finished event for the machine. A failing command is a result here, never a throw.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adapterFor, isDecisionPhase, quietCommand, resolvePhaseResult, type AgentInvocation } from '../agents/index.js';
import type { Attempt, AttemptReason, CommandResult, PhaseName, TaskRecord, Worktree } from '../generated/types.js';
import type { Clock } from '../clock.js';
import { isOrchError } from '../errors.js';
import type { PhaseRun, TaskEvent } from '../machine/transition.js';
import type { ResolvedWorkflow } from '../machine/workflow.js';
import { attemptArtifacts, type AttemptArtifacts } from '../runner/artifacts.js';
import { classifyFailure } from '../runner/classify.js';
import { renderArgs } from '../runner/command-env.js';
import { readCommandResult } from '../runner/result-file.js';
import { judgeAgentRun, readAgentOutput } from './agent-run.js';
import type { AttemptPlace, Executor, ExecutorOutcome } from '../executors/executor.js';
import { attemptMarkerId } from '../runner/session-marker.js';
import { recordPath, type StatePaths } from '../store/paths.js';
import { crashPoint } from '../testing/crash-points.js';
import { gateArgv } from './gate-script.js';
import { placeholderValues } from './prompt.js';
import { diffAgainstBase } from '../worktree/task-worktree.js';

export type AttemptFinishedEvent = Extract<TaskEvent, { type: 'attempt_finished' }>;

export interface AttemptOptions {
  paths: StatePaths;
  runId: string;
  record: TaskRecord;
  run: PhaseRun;
  n: number;
  workflow: ResolvedWorkflow;
  worker: string;
  launcher: string[];
  outputCapBytes: number;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** The task's own worktree (isolation worktree): the command runs there, told of it in its environment. */
  worktree?: Worktree;
  /**
   * The task's worktree (or its merge) could not be set up: the attempt is recorded as failed with this
   * error and nothing runs. A problem of the setup (the repository, the config), not of the agent: no
   * retry can fix it, unless `setupRetryable` says it was a passing one (a git lock held too long).
   */
  setupError?: string;
  setupRetryable?: boolean;
  /**
   * The quality gate's verdict is known without running a command (a merge that conflicts, a branch
   * merged already): the attempt is recorded with it, and nothing runs.
   */
  verdict?: CommandResult;
  /** True once the orchestrator is shutting down: a command stopped for that was interrupted, not cancelled. */
  isShuttingDown: () => boolean;
  /** Where the phase's command runs (local, or a host of a pool). */
  executor: Executor;
  /** Writes the attempt (with its process identity) to the record; awaited before we wait on the command. */
  onStarted: (attempt: Attempt) => Promise<void>;
}

export async function runAttempt(options: AttemptOptions): Promise<AttemptFinishedEvent> {
  const { paths, record, run, n, workflow, clock } = options;
  const phase = workflow.phases[run.phase];
  const step = run.step_index === undefined ? undefined : record.steps[run.step_index];
  const artifacts = attemptArtifacts(paths.stateDir, { runId: options.runId, taskId: record.id, attempt: n, phase: run.phase, stepId: step?.id });
  // Synchronous, like the output files: a few microseconds, not a wait behind fsyncs in the thread pool.
  mkdirSync(artifacts.dir, { recursive: true });
  const feedback = record.feedback;
  if (feedback !== undefined && feedback !== '') writeFileSync(artifacts.feedback, `${feedback}\n`);

  const startedAt = new Date(clock.now()).toISOString();
  const attempt: Attempt = {
    n,
    generation: record.generation,
    phase: run.phase,
    worker: options.worker,
    started_at: startedAt,
    run_id: options.runId,
    spec_hash: record.spec_hash,
    artifacts_dir: artifacts.relativeDir,
    ...(step !== undefined && { step_id: step.id }),
    ...(phase.model !== undefined && { model: phase.model }),
    ...(phase.provider !== undefined && { provider: phase.provider }),
  };
  const finished = finishedOf(n);

  if (options.setupError !== undefined) {
    await options.onStarted(attempt);
    const how = options.setupRetryable === true ? { retryable: true } : { config_problem: true };
    return finished({ reason: 'failed', exit_code: null, signal: null }, { error: options.setupError, ...how });
  }
  if (options.verdict !== undefined) {
    await options.onStarted(attempt);
    const passed = (options.verdict.checks ?? []).every(check => check.passed);
    return finished({ reason: passed ? 'succeeded' : 'failed', exit_code: null, signal: null }, { result: options.verdict });
  }

  // The agent client that runs the phase (undefined: a plain command, or the quality gate). It builds
  // the argv when the config gives no command, and its output is read back in any case.
  const known = run.phase === 'quality_gate' ? undefined : adapterFor(phase.provider);
  const cwd = options.worktree?.path ?? paths.root;
  const client = known?.provider === 'command' ? undefined : known;
  const builds = client !== undefined && phase.command === undefined;
  // A diff git could not make (a lock held past its wait): retryable, nothing is wrong with the task.
  const diff = await reviewersDiff(run.phase, options.worktree, artifacts.diff).catch((error: unknown) => (isOrchError(error) ? error : Promise.reject(error)));
  if (diff instanceof Error) {
    await options.onStarted(attempt);
    return finished({ reason: 'failed', exit_code: null, signal: null }, { retryable: true, error: `the diff for the reviewer could not be made: ${diff.message}` });
  }
  let argv: string[];
  try {
    const vars = placeholderValues({
      record, phase: run.phase, step, attempt: run.attempt, feedback, model: phase.model, provider: phase.provider, resultFile: artifacts.result, diff, worktree: options.worktree,
    });
    if (run.phase === 'quality_gate') argv = gateArgv(phase.checks, options.launcher, phase.shell);
    else if (builds) argv = client.argv(invocationOf(run.phase, String(vars.prompt), phase.model, artifacts, cwd, phase.args));
    else argv = renderArgs(phase.command ?? [], vars);
  } catch (error) {
    // A bad placeholder is a config problem: record it as a failed attempt that no retry can fix.
    await options.onStarted(attempt);
    return finished({ reason: 'failed', exit_code: null, signal: null }, { error: isOrchError(error) ? error.message : String(error) });
  }
  // A client that prints nothing until it ends (no streaming output mode, or a hand-written `claude -p`
  // without stream-json) would be killed by a stall timeout in any honest run longer than it: such a
  // phase gets none (orch validate says so).
  const quiet = builds ? !client.streams : run.phase !== 'quality_gate' && phase.shell !== true && quietCommand(argv) !== undefined;
  const stallTimeoutS = quiet ? undefined : phase.retry.stall_timeout_s;

  let spawned = false;
  const outcome = await options.executor.run({
    argv,
    shell: run.phase === 'quality_gate' ? false : phase.shell,
    cwd,
    env: {
      base: options.env,
      context: {
        taskId: record.id,
        taskFile: join(paths.stateDir, record.spec_file),
        recordFile: recordPath(paths, record.id),
        phase: run.phase,
        stepId: step?.id,
        attempt: run.attempt,
        artifactsDir: artifacts.dir,
        resultFile: artifacts.result,
        feedbackFile: feedback === undefined || feedback === '' ? undefined : artifacts.feedback,
        worktree: options.worktree,
        marker: { stateDir: resolve(paths.stateDir), session: options.runId, attemptId: attemptMarkerId(record.id, record.generation, n) },
      },
      extra: { ...unsetDefaults(client?.envDefaults, options.env), ...phase.env },
    },
    // Sticky: the host of the task's last remote attempt (its build dir and caches are there).
    preferredHost: [...record.attempts].reverse().find(a => a.remote !== undefined)?.remote?.host,
    ...(run.phase !== 'quality_gate' && options.launcher.length > 0 && { launcher: options.launcher }),
    stdoutPath: artifacts.stdout,
    stderrPath: artifacts.stderr,
    outputCapBytes: options.outputCapBytes,
    timeoutMs: phase.retry.timeout_s * 1000,
    ...(stallTimeoutS !== undefined && { stallTimeoutMs: stallTimeoutS * 1000 }),
    signal: options.signal,
    clock,
    onSpawn: async (place: AttemptPlace) => {
      spawned = true;
      crashPoint('attempt.spawned');
      await options.onStarted({ ...attempt, ...place });
      crashPoint('attempt.identity-written');
    },
  });
  // The attempt could not be written (a full disk, another orchestrator took over): the command was
  // stopped before it did anything, and there is no attempt to finish. The caller reports it.
  if (outcome.onSpawnError !== undefined) throw outcome.onSpawnError;
  if (!spawned) await options.onStarted(attempt); // never ran (missing binary…): the attempt is still recorded

  return judgeOutcome({ n, outcome, phase: run.phase, workflow, clock, shuttingDown: options.isShuttingDown(), artifacts });
}

/** attempt_finished of attempt `n`: not retryable unless `extra` says so. */
function finishedOf(n: number) {
  return (end: { reason: AttemptReason; exit_code: number | null; signal: string | null }, extra: Partial<AttemptFinishedEvent>): AttemptFinishedEvent => ({
    type: 'attempt_finished',
    n,
    reason: end.reason,
    retryable: false,
    exit_code: end.exit_code,
    signal: end.signal,
    ...extra,
  });
}

export interface JudgeInput {
  n: number;
  outcome: ExecutorOutcome;
  phase: PhaseName;
  workflow: ResolvedWorkflow;
  clock: Clock;
  /** The orchestrator is shutting down: a command stopped for that was interrupted, not cancelled. */
  shuttingDown: boolean;
  artifacts: Pick<AttemptArtifacts, 'stdout' | 'stderr' | 'result'>;
}

/**
 * The attempt_finished event of a command that has ended (run here, or followed to its end after a
 * restart): its result file read, its output read by its agent client's adapter, its failure classified.
 */
export async function judgeOutcome(input: JudgeInput): Promise<AttemptFinishedEvent> {
  const { n, outcome, clock, artifacts } = input;
  const phase = input.workflow.phases[input.phase];
  const finished = finishedOf(n);
  const known = input.phase === 'quality_gate' ? undefined : adapterFor(phase.provider);
  const client = known?.provider === 'command' ? undefined : known;
  if (outcome.lost !== undefined) return finished({ ...outcome, reason: 'interrupted' }, { retryable: true, error: outcome.lost });
  if (outcome.reason === 'cancelled' && input.shuttingDown) {
    return finished({ ...outcome, reason: 'interrupted' }, { retryable: true, error: 'stopped by the orchestrator shutting down' });
  }
  const read = await readCommandResult(artifacts.result);
  // Every phase of a known client is read from the client's own output; a plain command's output is
  // its own business (and not read at all: it costs nothing on the hot path).
  if (client !== undefined) {
    const output = readAgentOutput(artifacts.stdout, artifacts.stderr);
    const judged = judgeAgentRun({ adapter: client, outcome, output, read, phase: input.phase, resultFile: artifacts.result, retry: phase.retry, now: clock.now() });
    return finished({ ...outcome, reason: judged.reason }, judged.extra);
  }
  let result: CommandResult | undefined = read.result;
  let reason = outcome.reason;
  // "exited with code 1" says little: the command's last line of output usually says why.
  const lastLine = outcome.output_tail.trimEnd().split('\n').at(-1)?.trim();
  let error = outcome.error !== undefined && lastLine !== undefined && lastLine !== '' ? `${outcome.error}: ${lastLine.slice(0, 300)}` : outcome.error;
  if (read.error !== undefined && reason === 'succeeded') {
    reason = 'failed';
    error = `the result file is invalid: ${read.error.message}`;
  } else if (reason === 'succeeded' && result?.outcome === 'failed') {
    reason = 'failed';
    error = result.reason ?? 'the command reported outcome "failed"';
  } else if (reason === 'succeeded' && isDecisionPhase(input.phase)) {
    // Fail closed: a plan or a review that produced no decision has failed, whatever its exit code.
    const judged = resolvePhaseResult({ phase: input.phase, fromFile: result, resultFile: artifacts.result, report: {} });
    if (judged.problem !== undefined) {
      reason = 'failed';
      error = judged.problem;
    }
    result = judged.result;
  }
  if (reason === 'succeeded') return finished(outcome, result === undefined ? {} : { result });
  const verdict = classifyFailure({ ...outcome, reason, ...(error !== undefined && { error }) }, phase.retry, clock.now());
  return finished(
    { ...outcome, reason: verdict.rate_limited_until !== undefined ? 'rate_limited' : reason },
    {
      retryable: verdict.retryable,
      ...(error !== undefined && { error }),
      ...(result !== undefined && { result }),
      ...(verdict.rate_limited_until !== undefined && { rate_limited_until: verdict.rate_limited_until }),
    },
  );
}

/**
 * The phases that judge the work (step review, code review, the quality gate) get the task's branch as
 * a diff against its base, written beside the attempt's other files (isolation worktree only).
 */
async function reviewersDiff(phase: PhaseName, worktree: Worktree | undefined, file: string): Promise<{ file: string; text: string } | undefined> {
  if (worktree === undefined || (phase !== 'step_review' && phase !== 'code_review' && phase !== 'quality_gate')) return undefined;
  const text = await diffAgainstBase(worktree);
  writeFileSync(file, text);
  return { file, text };
}

function invocationOf(
  phase: PhaseName,
  prompt: string,
  model: string | undefined,
  artifacts: { dir: string; result: string },
  cwd: string,
  args: readonly string[],
): AgentInvocation {
  return { phase, prompt, model, resultFile: artifacts.result, artifactsDir: artifacts.dir, cwd, decides: isDecisionPhase(phase), extraArgs: args };
}

/** The adapter's env defaults that the orchestrator's own environment does not already set. */
function unsetDefaults(defaults: Readonly<Record<string, string>> | undefined, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults ?? {})) if (env[name] === undefined) out[name] = value;
  return out;
}
