// The words of the run log (PRODUCT.md §9), in one place so the diary reads the same everywhere.
import type { AttemptReason, TaskRecord, TaskSpec } from '../generated/types.js';

const TITLE_MAX = 120;

/** The spec's title, or the first line of its goal, shortened for one log line. */
export function taskTitle(spec: TaskSpec): string {
  const text = spec.title ?? firstLine(spec.goal ?? '');
  return text.length > TITLE_MAX ? `${text.slice(0, TITLE_MAX - 1)}…` : text;
}

export function firstLine(text: string): string {
  return (text.split(/\r?\n/, 1)[0] ?? '').trim();
}

/** "$0.38" for task totals; `digits` 4 for single calls ("$0.0045"). */
export function money(usd: number, digits = 2): string {
  return `$${usd.toFixed(digits)}`;
}

export function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** When this generation of the task started: its last move out of NEW, else its creation. */
export function generationStart(record: TaskRecord): string {
  for (let i = record.history.length - 1; i >= 0; i--) {
    const entry = record.history[i];
    if (entry?.from === 'NEW' && (entry.generation ?? record.generation) === record.generation) return entry.at;
  }
  return record.created_at;
}

export function completedMessage(record: TaskRecord, status: 'done' | 'failed', now: number): string {
  const duration = seconds(now - Date.parse(generationStart(record)));
  const icon = status === 'done' ? '✅' : '❌';
  return `${icon} Task ${record.id} completed with status: ${status} (duration=${duration}, cost=${money(record.cost.usd)})`;
}

/** "step S2" for a step phase, "phase plan" otherwise. */
export function where(phase: string, stepId: string | undefined): string {
  return stepId === undefined ? `phase ${phase}` : `step ${stepId}`;
}

export function retryMessage(next: number, max: number, phase: string, stepId: string | undefined, taskId: string, why: string): string {
  return `⚠️  Retry attempt ${next}/${max} for ${where(phase, stepId)} (task=${taskId}): ${firstLine(why)}`;
}

/** The error text of a failed attempt when the command gave none. */
export function describeEnd(reason: AttemptReason, exitCode: number | null, signal: string | null): string {
  switch (reason) {
    case 'timed_out':
      return 'timed out';
    case 'stalled':
      return 'stalled: no output for too long';
    case 'rate_limited':
      return 'rate limited';
    case 'interrupted':
      return 'interrupted';
    case 'cancelled':
      return 'cancelled';
    case 'succeeded':
    case 'failed':
      if (signal !== null) return `killed by ${signal}`;
      return exitCode === null ? reason : `exit code ${exitCode}`;
    default: {
      const never: never = reason;
      return String(never);
    }
  }
}
