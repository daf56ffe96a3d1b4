// What can happen to a task (events, the machine's input) and what the runtime must do about it
// (effects, the machine's output). Both are plain data, discriminated by `type`. See specs/machine.md.
import type {
  Attempt,
  AttemptReason,
  CommandResult,
  InboxDecision,
  MergeLanded,
  PhaseName,
  RunEvent,
  TaskRecord,
  TaskSpec,
  TaskState,
  Worktree,
} from '../generated/types.js';
import { phaseOfState, type HumanActor } from './states.js';

/** Every event type, in the order the (state × event) matrix lists them. */
export const TASK_EVENT_TYPES = [
  'start',
  'attempt_started',
  'attempt_finished',
  'deadline_passed',
  'approve',
  'reject',
  'retry',
  'replan',
  'cancel',
  'spec_changed',
  'spec_deleted',
  'hand_edit_found',
  'worktree_planned',
] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

/** A person's decision; `note` goes to last_review and, when the task is sent back, to feedback. */
interface Decision {
  readonly actor: HumanActor;
  readonly note?: string;
}

export type TaskEvent =
  /** orch: a NEW task begins its first phase (or its first gate). */
  | { readonly type: 'start' }
  /** orch: a phase command was spawned; its attempt (with process identity) is recorded before waiting. */
  | { readonly type: 'attempt_started'; readonly attempt: Attempt }
  /** orch: attempt `n` ended; the runner has classified it (reason, retryable) and read its result. */
  | {
      readonly type: 'attempt_finished';
      readonly n: number;
      readonly reason: AttemptReason;
      readonly retryable: boolean;
      readonly exit_code: number | null;
      readonly signal: string | null;
      readonly error?: string;
      /** The command's validated ORCH_RESULT_FILE, if it wrote one. */
      readonly result?: CommandResult;
      /** Epoch ms of the rate limit's reset, when the runner found one in the output. */
      readonly rate_limited_until?: number;
      /**
       * The failure's signature for the no-progress breaker (the runner's failureSignature); when
       * left out: `<exit code, or signal, or reason>:<first line of the error>`.
       */
      readonly signature?: string;
      /**
       * The failure is the config's, not the work's (a flag the client refused, a quality-gate check
       * that cannot run): no attempt can succeed until a person fixes it, so the task waits for one at once.
       */
      readonly config_problem?: boolean;
      /** What the agent client said about the attempt, recorded on it. */
      readonly agent?: AttemptAgentFacts;
      /** The commit orch made on the task's branch of what the attempt changed (isolation worktree). */
      readonly checkpoint?: string;
      /** The merge of the task's branch this quality gate attempt landed on the target (merge branch or queue). */
      readonly merge?: MergeLanded;
      /** The run that followed the attempt to its end after the run that started it died (orch --resume). */
      readonly adopted_by?: string;
    }
  /** orch: the task's deadline_at has passed. */
  | { readonly type: 'deadline_passed' }
  | ({ readonly type: 'approve' } & Decision)
  | ({ readonly type: 'reject' } & Decision)
  | ({ readonly type: 'retry'; readonly from_phase?: PhaseName } & Decision)
  | ({ readonly type: 'replan' } & Decision)
  | ({ readonly type: 'cancel' } & Decision)
  /** orch (watcher): the spec file changed; `mode` is config.on_spec_change. */
  | { readonly type: 'spec_changed'; readonly spec: TaskSpec; readonly hash: string; readonly mode: 'restart' | 'next_phase' }
  /** orch (watcher): the spec file is gone. */
  | { readonly type: 'spec_deleted' }
  /**
   * orch, at start: the record was edited by hand beyond its state while no orchestrator ran, and what
   * orch wrote cannot be told (src/store/record-seal.ts); `reason` says so and where the edit is kept.
   */
  | { readonly type: 'hand_edit_found'; readonly reason: string }
  /** orch: the task's worktree (path, branch, base commit), recorded before it is made; kept for good. */
  | { readonly type: 'worktree_planned'; readonly worktree: Worktree };

/** Facts of an attempt read from the agent client's own output (PRODUCT.md §13). */
export type AttemptAgentFacts = Pick<Attempt, 'session_id' | 'error_kind' | 'http_status' | 'result_source'>;

export type LogCategory = Exclude<RunEvent['category'], 'run'>;
export type LogLevel = RunEvent['level'];

export const EFFECT_TYPES = ['run_phase', 'stop_command', 'log'] as const;

export type Effect =
  /** Spawn the phase's command (for the step) once `not_before` (epoch ms) has passed. */
  | { readonly type: 'run_phase'; readonly phase: PhaseName; readonly step_id?: string; readonly not_before?: number }
  /** Stop the task's running command (its whole process group), if it has one. */
  | { readonly type: 'stop_command'; readonly reason: string }
  /** A run-log line (and events.jsonl event) about this task. */
  | {
      readonly type: 'log';
      readonly category: LogCategory;
      readonly level: LogLevel;
      readonly message: string;
      readonly details?: readonly string[];
    };

export type EffectType = Effect['type'];

/** The event an inbox decision file stands for. */
export function decisionEvent(decision: Pick<InboxDecision, 'action' | 'actor' | 'note' | 'from_phase'>): TaskEvent {
  const base = { actor: decision.actor, ...(decision.note === undefined ? {} : { note: decision.note }) };
  switch (decision.action) {
    case 'approve':
    case 'reject':
    case 'replan':
    case 'cancel':
      return { type: decision.action, ...base };
    case 'retry':
      return { type: 'retry', ...base, ...(decision.from_phase === undefined ? {} : { from_phase: decision.from_phase }) };
    default: {
      const never: never = decision.action;
      throw new Error(`unknown decision action ${String(never)}`);
    }
  }
}

/**
 * The decision a person made by setting `state` by hand in a record that was AWAITING_HUMAN
 * (PRODUCT.md §6, §8): the resume state is approve (so are PLAN_APPROVED and IMPLEMENTING when
 * the task waits at the plan's end), FAILED reject, PLANNING
 * replan, CANCELLED cancel, another phase's state a retry from that phase. undefined: no decision
 * means that (the runtime refuses the edit).
 */
export function eventForStateEdit(
  record: Pick<TaskRecord, 'state' | 'awaiting'>,
  state: TaskState,
  actor: HumanActor,
): TaskEvent | undefined {
  if (record.state !== 'AWAITING_HUMAN' || state === 'AWAITING_HUMAN') return undefined;
  const resume = record.awaiting?.resume_state;
  if (state === resume) return { type: 'approve', actor };
  const planStage = record.awaiting?.kind === 'plan_rejections' || resume === 'PLAN_APPROVED' || resume === 'IMPLEMENTING';
  if (planStage && (state === 'PLAN_APPROVED' || state === 'IMPLEMENTING')) return { type: 'approve', actor };
  if (state === 'FAILED') return { type: 'reject', actor };
  if (state === 'PLANNING') return { type: 'replan', actor };
  if (state === 'CANCELLED') return { type: 'cancel', actor };
  const phase = phaseOfState(state);
  return phase === undefined ? undefined : { type: 'retry', actor, from_phase: phase };
}
