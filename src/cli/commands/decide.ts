// `orch approve|reject|retry|replan|cancel ID` (PRODUCT.md §8): one human decision, applied now under
// the record's lock when no orchestrator runs, or queued in inbox/ for the one that does. One line
// says which, and against which rev: a person must know whether the task has already moved.
// `orch retry --failed`: the same retry, for every FAILED task, once the person has said yes.
import { relative } from 'node:path';
import type { PhaseName, TaskRecord } from '../../generated/types.js';
import { isOrchError, OrchError } from '../../errors.js';
import { PHASES } from '../../machine/states.js';
import { listFailed } from '../../project/review.js';
import { decide, readRecord, type DecisionAction, type DecideResult } from '../../runtime/decide.js';
import { projectPaths } from '../context.js';
import { bad, bold, dim, good, heading, warn } from '../format/colour.js';
import { shorten } from '../format/text.js';
import { exitCodeOf, printJson, println, type GlobalOptions } from '../output.js';
import { confirm } from './clean.js';

export interface DecideCommandOptions extends GlobalOptions {
  note?: string;
  /** `orch retry --from PHASE`. */
  from?: string;
  /** `orch retry --failed`: every FAILED task instead of one id. */
  failed?: boolean;
  /** `orch retry --failed --yes`: do not ask. */
  yes?: boolean;
}

const DONE_WORDS = { approve: 'approved', reject: 'rejected', retry: 'retried', replan: 'sent back to planning', cancel: 'cancelled' } as const satisfies Record<DecisionAction, string>;

function phaseOption(value: string | undefined): PhaseName | undefined {
  if (value === undefined) return undefined;
  const phase = PHASES.find(p => p === value);
  if (phase === undefined) {
    throw new OrchError('ORCH_USAGE', `--from ${JSON.stringify(value)} is not a phase`, { details: { from: value }, hint: `use one of: ${PHASES.join(', ')}` });
  }
  return phase;
}

/** Exit 0 when the decision was applied or queued; ORCH_ILLEGAL_TRANSITION and ORCH_NOT_FOUND are thrown (exit 2). */
export async function decideCommand(action: DecisionAction, taskId: string, options: DecideCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  const fromPhase = phaseOption(options.from);
  // The state the person saw, for the message; decide() itself checks the rev it acts on.
  const before: TaskRecord = await readRecord(paths, taskId);
  const result = await decide(paths, {
    taskId,
    action,
    actor: 'cli',
    ...(options.note !== undefined && { note: options.note }),
    ...(fromPhase !== undefined && { fromPhase }),
  });
  const seen = result.mode === 'applied' && result.fromRev === before.rev ? before.state : undefined;
  if (options.json === true) {
    printJson(jsonOf(action, taskId, result, seen));
    return 0;
  }
  println(lineOf(action, taskId, result, seen));
  return 0;
}

function jsonOf(action: DecisionAction, taskId: string, result: DecideResult, fromState: string | undefined): Record<string, unknown> {
  switch (result.mode) {
    case 'applied':
      return {
        mode: 'applied', task: taskId, action,
        from_rev: result.fromRev, rev: result.record.rev,
        ...(fromState !== undefined && { from_state: fromState }),
        state: result.record.state,
      };
    case 'inbox':
      return { mode: 'inbox', task: taskId, action, file: result.file, decision_id: result.decision.decision_id, against_rev: result.decision.against_rev, holder: result.holder };
    default: {
      const never: never = result;
      throw new Error(`unknown decision result ${String(never)}`);
    }
  }
}

function lineOf(action: DecisionAction, taskId: string, result: DecideResult, fromState: string | undefined): string {
  switch (result.mode) {
    case 'applied': {
      const move = fromState === undefined ? `now ${result.record.state}` : `${fromState} → ${result.record.state}`;
      return `${good(DONE_WORDS[action])} ${bold(taskId)}: ${move} (rev ${result.fromRev} → ${result.record.rev}); applied now, no orchestrator is running`;
    }
    case 'inbox': {
      const file = relative(process.cwd(), result.file) || result.file;
      return `${warn('queued')} ${action} of ${bold(taskId)} in ${file}: the running orchestrator (${result.holder}) will apply it against rev ${result.decision.against_rev}`;
    }
    default: {
      const never: never = result;
      throw new Error(`unknown decision result ${String(never)}`);
    }
  }
}

/** What `orch retry --failed` did to one task: the decision's result, or why it was refused. */
type RetryOutcome = { task: string; result: DecideResult; fromState: string | undefined } | { task: string; error: unknown };

/**
 * `orch retry --failed`: lists every FAILED task, asks (or takes --yes; with no terminal to ask on,
 * refuses), then retries each as `orch retry ID` would: queued for a running orchestrator, else applied
 * under the lock. A task refused (it moved since the list) does not stop the others; the exit code is
 * then the first refusal's.
 */
export async function retryFailedCommand(options: DecideCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  const fromPhase = phaseOption(options.from);
  const json = options.json === true;
  const { items, invalid } = await listFailed(paths);
  const unreadable = invalid.length === 0 ? undefined : `${invalid.length} record file(s) could not be read, and may be FAILED too (run \`orch status\`): ${invalid.slice(0, 3).map(f => f.path).join(', ')}${invalid.length > 3 ? ', …' : ''}`;
  if (items.length === 0) {
    if (json) printJson({ tasks: [], retried: 0, refused: 0, invalid_total: invalid.length });
    else {
      println('No task is FAILED: nothing to retry.');
      if (unreadable !== undefined) println(bad(unreadable));
    }
    return 0;
  }
  if (!json) {
    println(heading(`${items.length} FAILED task${items.length === 1 ? '' : 's'} to retry${fromPhase === undefined ? ', each from the phase it failed in' : ` from ${fromPhase}`}:`));
    for (const item of items) println(`  ${bold(item.id)}  ${shorten(item.title, 80)}${dim(` (${[item.phase, shorten(item.reason, 120)].filter(t => t !== null && t !== '').join(': ')})`)}`);
    if (unreadable !== undefined) println(bad(unreadable));
  }
  const what = `${items.length} task${items.length === 1 ? '' : 's'}`;
  if (!(await confirm(`Retry ${what}?`, { yes: options.yes, what: 'orch retry --failed' }))) {
    if (json) printJson({ tasks: [], retried: 0, refused: 0, cancelled: true });
    else println('nothing retried');
    return 0;
  }
  const outcomes: RetryOutcome[] = [];
  for (const item of items) {
    try {
      const result = await decide(paths, {
        taskId: item.id,
        action: 'retry',
        actor: 'cli',
        ...(options.note !== undefined && { note: options.note }),
        ...(fromPhase !== undefined && { fromPhase }),
      });
      const fromState = result.mode === 'applied' && result.fromRev === item.rev ? 'FAILED' : undefined;
      outcomes.push({ task: item.id, result, fromState });
      if (!json) println(lineOf('retry', item.id, result, fromState));
    } catch (error) {
      if (!isOrchError(error)) throw error; // a bug: not a refusal to report and go on from
      outcomes.push({ task: item.id, error });
      if (!json) println(`${bad('not retried')} ${bold(item.id)}: ${error.message}`);
    }
  }
  const refused = outcomes.flatMap(o => ('error' in o ? [o.error] : []));
  if (json) {
    printJson({
      tasks: outcomes.map(o => ('error' in o ? { task: o.task, error: errorJson(o.error) } : jsonOf('retry', o.task, o.result, o.fromState))),
      retried: outcomes.length - refused.length,
      refused: refused.length,
      invalid_total: invalid.length,
    });
  } else if (refused.length > 0) {
    println(`${outcomes.length - refused.length} retried, ${bad(`${refused.length} not`)} (each says why above)`);
  }
  return refused.length === 0 ? 0 : exitCodeOf(refused[0]);
}

function errorJson(error: unknown): Record<string, unknown> {
  return isOrchError(error) ? { code: error.code, message: error.message, details: error.details } : { code: 'ORCH_INTERNAL', message: String(error) };
}
