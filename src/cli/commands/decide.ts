// `orch approve|reject|retry|replan|cancel ID` (PRODUCT.md §8): one human decision, applied now under
// the record's lock when no orchestrator runs, or queued in inbox/ for the one that does. One line
// says which, and against which rev: a person must know whether the task has already moved.
import { relative } from 'node:path';
import type { PhaseName, TaskRecord } from '../../generated/types.js';
import { OrchError } from '../../errors.js';
import { PHASES } from '../../machine/states.js';
import { decide, readRecord, type DecisionAction, type DecideResult } from '../../runtime/decide.js';
import { projectPaths } from '../context.js';
import { bold, good, warn } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface DecideCommandOptions extends GlobalOptions {
  note?: string;
  /** `orch retry --from PHASE`. */
  from?: string;
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
