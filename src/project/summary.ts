// `orch summary` / `orch --summary`: the whole state dir in numbers: tasks per state, cost and tokens
// by role and by model, attempt outcomes, and how long things took. Library code: it computes, the CLI prints.
import type { TaskRecord, TaskState } from '../generated/types.js';
import { generationStart } from '../machine/messages.js';
import { PHASE_INFO, TASK_STATES } from '../machine/states.js';
import type { StatePaths } from '../store/paths.js';
import { compareText, readRecords } from './read-state.js';

export interface Spend {
  usd: number;
  tokens: number;
  calls: number;
}

export interface TimeStats {
  count: number;
  total_s: number;
  mean_s: number;
  max_s: number;
}

export interface SummaryReport {
  tasks: number;
  counts: Record<TaskState, number>;
  cost: { usd: number; tokens: number };
  /** Spend per phase role (planner, implementer, …), from the records' cost.by_role. */
  by_role: (Spend & { role: string; phase: string })[];
  /** Spend per model (`provider/model`), from the attempts that reported one. */
  by_model: (Spend & { model: string })[];
  /** Attempts per reason (`running` for open ones). */
  attempts: Record<string, number>;
  durations: {
    /** Time spent in attempts, per phase. */
    by_phase: (TimeStats & { phase: string })[];
    /** Finished tasks (DONE or FAILED): from their generation's start to the end. */
    finished_tasks: TimeStats;
    /** From the first record created to the last one updated. */
    first_at: string | null;
    last_at: string | null;
    span_s: number;
  };
  done: string[];
  failed: string[];
  awaiting: string[];
  cancelled: string[];
  /** Record files that could not be read: not counted above. */
  invalid_records: number;
}

export const SUMMARY_FIELDS = [
  'tasks', 'counts', 'cost', 'by_role', 'by_model', 'attempts', 'durations', 'done', 'failed', 'awaiting', 'cancelled', 'invalid_records',
] as const satisfies readonly (keyof SummaryReport)[];

/** Every task state with 0. */
export function emptyCounts(): Record<TaskState, number> {
  return Object.fromEntries(TASK_STATES.map(state => [state, 0])) as Record<TaskState, number>;
}

function seconds(from: string, to: string): number {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : 0;
}

function stats(values: number[]): TimeStats {
  const total = values.reduce((sum, v) => sum + v, 0);
  return { count: values.length, total_s: total, mean_s: values.length === 0 ? 0 : total / values.length, max_s: Math.max(0, ...values) };
}

function add(map: Map<string, Spend>, key: string, usd: number, tokens: number, calls: number): void {
  const spend = map.get(key) ?? { usd: 0, tokens: 0, calls: 0 };
  map.set(key, { usd: spend.usd + usd, tokens: spend.tokens + tokens, calls: spend.calls + calls });
}

const byCost = <T extends Spend>(a: T & { key: string }, b: T & { key: string }): number => b.usd - a.usd || b.tokens - a.tokens || compareText(a.key, b.key);

/** The numbers of a set of records (pure: `summarizeState` reads them from disk). */
export function summarizeRecords(records: readonly TaskRecord[], invalidRecords = 0): SummaryReport {
  const counts = emptyCounts();
  const roles = new Map<string, Spend>();
  const models = new Map<string, Spend>();
  const attempts: Record<string, number> = {};
  const phaseTimes = new Map<string, number[]>();
  const finished: number[] = [];
  let first: string | null = null;
  let last: string | null = null;
  for (const record of records) {
    counts[record.state] += 1;
    for (const [phase, cost] of Object.entries(record.cost.by_role)) if (cost !== undefined) add(roles, phase, cost.usd, cost.tokens, cost.calls);
    for (const attempt of record.attempts) {
      const reason = attempt.reason ?? 'running';
      attempts[reason] = (attempts[reason] ?? 0) + 1;
      if (attempt.model !== undefined || attempt.cost_usd !== undefined || attempt.tokens !== undefined) {
        const model = attempt.model === undefined ? '(not reported)' : [attempt.provider, attempt.model].filter(Boolean).join('/');
        add(models, model, attempt.cost_usd ?? 0, attempt.tokens ?? 0, 1);
      }
      if (attempt.ended_at !== undefined) {
        // Pushed, not copied: a copy per attempt made a summary of 10,000 records take seconds.
        const times = phaseTimes.get(attempt.phase) ?? [];
        times.push(seconds(attempt.started_at, attempt.ended_at));
        phaseTimes.set(attempt.phase, times);
      }
    }
    if (record.state === 'DONE' || record.state === 'FAILED') finished.push(seconds(generationStart(record), record.state_since));
    if (first === null || record.created_at < first) first = record.created_at;
    if (last === null || record.updated_at > last) last = record.updated_at;
  }
  const ids = (state: TaskState): string[] => records.filter(r => r.state === state).map(r => r.id);
  const phaseOrder = (phase: string): number => (PHASE_INFO as Record<string, { order: number } | undefined>)[phase]?.order ?? 99;
  return {
    tasks: records.length,
    counts,
    cost: { usd: records.reduce((sum, r) => sum + r.cost.usd, 0), tokens: records.reduce((sum, r) => sum + r.cost.tokens, 0) },
    by_role: [...roles].map(([phase, spend]) => ({ key: phase, phase, role: (PHASE_INFO as Record<string, { role: string } | undefined>)[phase]?.role ?? phase, ...spend }))
      .sort(byCost).map(({ key: _key, ...rest }) => rest),
    by_model: [...models].map(([model, spend]) => ({ key: model, model, ...spend })).sort(byCost).map(({ key: _key, ...rest }) => rest),
    attempts,
    durations: {
      by_phase: [...phaseTimes].sort(([a], [b]) => phaseOrder(a) - phaseOrder(b)).map(([phase, values]) => ({ phase, ...stats(values) })),
      finished_tasks: stats(finished),
      first_at: first,
      last_at: last,
      span_s: first === null || last === null ? 0 : seconds(first, last),
    },
    done: ids('DONE'),
    failed: ids('FAILED'),
    awaiting: ids('AWAITING_HUMAN'),
    cancelled: ids('CANCELLED'),
    invalid_records: invalidRecords,
  };
}

/** The summary of every record of the state dir. */
export async function summarizeState(paths: StatePaths): Promise<SummaryReport> {
  const { records, invalid } = await readRecords(paths);
  return summarizeRecords(records, invalid.length);
}
