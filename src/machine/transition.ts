// The task state machine: transition(record, event, ctx) → { record, effects }. Pure: no file, clock,
// process or randomness but what ctx brings. The input record is never changed; a new one is returned,
// every state change in its history. The runtime writes the record, then carries out the effects.
import type { TaskRecord } from '../generated/types.js';
import { approve, reject, replan, retry } from './decisions.js';
import type { Effect, TaskEvent } from './events.js';
import { finishAttempt } from './finish.js';
import { iso, type Draft, type TransitionContext } from './flow.js';
import { attemptStarted, cancel, deadlinePassed, handEditFound, runPendingSpec, specChanged, start } from './lifecycle.js';
import { firstLine } from './messages.js';

export type { TransitionContext } from './flow.js';
export type { Effect, TaskEvent } from './events.js';
export { createRecord, currentPhase, initialSteps, nextAttemptNumber, nextPhase, openAttempt, type PhaseRun } from './record.js';

export interface TransitionResult {
  /** The new record; the input record itself (same object) when the event changed nothing. */
  readonly record: TaskRecord;
  /** What the runtime must do, in order, after writing the record. */
  readonly effects: readonly Effect[];
}

/**
 * Applies `event` to `record`. Throws ORCH_ILLEGAL_TRANSITION (naming the task, both states and the
 * actor) when the event asks for a move the legal table refuses, e.g. approving a task that does not
 * wait for a person; the record is then unchanged.
 */
export function transition(record: TaskRecord, event: TaskEvent, ctx: TransitionContext): TransitionResult {
  const d: Draft = { r: structuredClone(record), effects: [], ctx };
  switch (event.type) {
    case 'start':
      start(d);
      break;
    case 'attempt_started':
      attemptStarted(d, event);
      break;
    case 'attempt_finished':
      finishAttempt(d, event);
      break;
    case 'deadline_passed':
      deadlinePassed(d);
      break;
    case 'approve':
      approve(d, event);
      break;
    case 'reject':
      reject(d, event);
      break;
    case 'retry':
      retry(d, event);
      break;
    case 'replan':
      replan(d, event);
      break;
    case 'cancel':
      cancel(d, event.actor, `cancelled by ${event.actor}${event.note === undefined ? '' : `: ${firstLine(event.note)}`}`, 'cancel');
      break;
    case 'spec_changed':
      specChanged(d, event);
      break;
    case 'spec_deleted':
      cancel(d, 'orch', 'spec deleted', 'spec_deleted');
      break;
    case 'hand_edit_found':
      handEditFound(d, event.reason);
      break;
    case 'worktree_planned':
      d.r.worktree ??= event.worktree; // the first plan stands: its path and base are the task's for good
      break;
    default: {
      const never: never = event;
      throw new Error(`unknown event ${JSON.stringify(never)}`);
    }
  }
  if (d.r.state === 'DONE' && record.state !== 'DONE') runPendingSpec(d);
  if (JSON.stringify(d.r) === JSON.stringify(record)) return { record, effects: d.effects };
  d.r.updated_at = iso(ctx.now);
  return { record: d.r, effects: d.effects };
}
