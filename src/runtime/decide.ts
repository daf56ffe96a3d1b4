// Human decisions (PRODUCT.md §8): approve, reject, retry, replan, cancel. With a live orchestrator
// they are dropped into inbox/ as files it applies exactly once; without one they are applied here,
// under the record's lock. Either way a decision names the record rev it was taken against, and a
// decision against a record that has moved on is refused: nothing a person did not see is approved.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { InboxDecision, PhaseName, TaskRecord } from '../generated/types.js';
import { isoTime, systemClock, type Clock } from '../clock.js';
import { loadConfig } from '../config/load-config.js';
import { OrchError } from '../errors.js';
import { decisionEvent, type TaskEvent } from '../machine/events.js';
import { transition } from '../machine/transition.js';
import { DEFAULT_MAX_INTERRUPTIONS, resolveWorkflow } from '../machine/workflow.js';
import type { Effect } from '../machine/events.js';
import { createDocument, updateDocument } from '../store/fenced-update.js';
import { loadIfExists } from '../store/load.js';
import { checkSeal } from '../store/record-seal.js';
import { recordPath, type StatePaths } from '../store/paths.js';
import { judgeHolder, readSession } from '../store/session.js';

export type DecisionAction = InboxDecision['action'];

export interface DecideOptions {
  taskId: string;
  action: DecisionAction;
  note?: string;
  fromPhase?: PhaseName;
  actor?: 'cli' | 'human';
  clock?: Clock;
}

export type DecideResult =
  | { mode: 'inbox'; decision: InboxDecision; file: string; holder: string }
  | { mode: 'applied'; record: TaskRecord; fromRev: number };

export async function readRecord(paths: StatePaths, taskId: string): Promise<TaskRecord> {
  const loaded = await loadIfExists('record', recordPath(paths, taskId));
  if (loaded === undefined) {
    throw new OrchError('ORCH_NOT_FOUND', `there is no task "${taskId}"`, { details: { task: taskId }, hint: 'run `orch status` to list the tasks' });
  }
  return loaded.doc;
}

/** The event, and a dry run of it on `record`: an illegal decision is refused before it is queued. */
export function checkDecision(record: TaskRecord, event: TaskEvent, workflowConfig: Parameters<typeof resolveWorkflow>[0], clock: Clock): { record: TaskRecord; effects: readonly Effect[] } {
  return transition(record, event, {
    now: clock.now(),
    workflow: resolveWorkflow(workflowConfig, record.spec),
    random: Math.random,
    maxInterruptions: workflowConfig.max_interruptions ?? DEFAULT_MAX_INTERRUPTIONS,
  });
}

/** Refuses a record edited by hand since orch last wrote it: the next orchestrator start judges it. */
function assertAsWritten(record: TaskRecord): void {
  const check = checkSeal(record);
  if (check.kind !== 'state_edited' && check.kind !== 'edited') return;
  throw new OrchError('ORCH_HAND_EDITED', `the record of task ${record.id} was edited by hand since orch last wrote it (${check.kind === 'state_edited' ? `its state, from ${check.original.state} to ${record.state}` : 'more than its state'}); nothing was applied`, {
    details: { task: record.id },
    hint: 'start orch: it judges the edit as a live orchestrator would (`orch doctor` says how)',
  });
}

export async function decide(paths: StatePaths, options: DecideOptions): Promise<DecideResult> {
  const clock = options.clock ?? systemClock;
  const actor = options.actor ?? 'cli';
  const { config } = await loadConfig(paths.config, paths.root);
  const record = await readRecord(paths, options.taskId);
  const decision: InboxDecision = {
    version: 1,
    rev: 1,
    decision_id: `${isoTime(clock).replace(/[:.]/g, '-')}-${options.taskId}-${options.action}-${randomBytes(3).toString('hex')}`.slice(0, 80),
    task_id: options.taskId,
    action: options.action,
    against_rev: record.rev,
    created_at: isoTime(clock),
    actor,
    ...(options.note !== undefined && { note: options.note }),
    ...(options.fromPhase !== undefined && { from_phase: options.fromPhase }),
  };
  const event = decisionEvent(decision);
  checkDecision(record, event, config, clock); // throws ORCH_ILLEGAL_TRANSITION with the states named

  const session = await readSession(paths);
  if (session !== undefined && judgeHolder(session, clock).state === 'held') {
    const file = join(paths.inbox, `${decision.decision_id}.json`);
    await createDocument('decision', file, decision, { fence: { epoch: session.epoch } });
    return { mode: 'inbox', decision, file, holder: `pid ${session.owner.pid} on ${session.owner.host}` };
  }
  // No orchestrator: apply here. The fence is the last session's epoch, and session.json is checked
  // under the lock too, so an orchestrator that starts meanwhile makes this write fail, not race it.
  const fence = { epoch: Math.max(session?.epoch ?? 0, record.epoch), sessionPath: paths.session };
  const written = await updateDocument(
    'record',
    recordPath(paths, options.taskId),
    current => {
      if (current === undefined) return undefined;
      assertAsWritten(current); // a decision written over an unjudged hand edit would make it orch's own
      return checkDecision(current, event, config, clock).record;
    },
    { fence, expectRev: record.rev, stateDir: paths.stateDir },
  );
  if (written === undefined) throw new OrchError('ORCH_NOT_FOUND', `task "${options.taskId}" disappeared`, { details: { task: options.taskId } });
  return { mode: 'applied', record: written, fromRev: record.rev };
}
