// `orch summary` and `orch --summary`: the state dir in numbers.
import { TASK_STATES } from '../../machine/states.js';
import { SUMMARY_FIELDS, summarizeState, type SummaryReport, type TimeStats } from '../../project/summary.js';
import { listTotals, parseFields, parseLimit, pickFields, refuseOffset, type ReadOptions } from '../format/bounds.js';
import { heading, paintState } from '../format/colour.js';
import { renderTable } from '../format/table.js';
import { duration, money } from '../format/text.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

function times(stats: TimeStats): string {
  return stats.count === 0 ? 'none yet' : `${stats.count}, total ${duration(stats.total_s)}, mean ${duration(stats.mean_s)}, longest ${duration(stats.max_s)}`;
}

function ids(list: readonly string[], limit: number): string {
  if (list.length === 0) return '-';
  return list.length > limit ? `${list.slice(0, limit).join(', ')}, … (${list.length - limit} more)` : list.join(', ');
}

/** The id lists bounded by --limit, with their full lengths beside them. */
function bounded(report: SummaryReport, limit: number): SummaryReport & { totals: Record<'done' | 'failed' | 'awaiting' | 'cancelled', number> } {
  return {
    ...report,
    by_role: report.by_role.slice(0, limit),
    by_model: report.by_model.slice(0, limit),
    done: report.done.slice(0, limit),
    failed: report.failed.slice(0, limit),
    awaiting: report.awaiting.slice(0, limit),
    cancelled: report.cancelled.slice(0, limit),
    totals: { done: report.done.length, failed: report.failed.length, awaiting: report.awaiting.length, cancelled: report.cancelled.length },
  };
}

export async function summaryCommand(options: ReadOptions): Promise<number> {
  const paths = projectPaths(options);
  refuseOffset(options.offset, 'orch summary');
  const fields = parseFields(options.fields, SUMMARY_FIELDS, 'orch summary');
  const limit = parseLimit(options.limit);
  const report = await summarizeState(paths);
  if (options.json === true) {
    const { totals, ...rest } = bounded(report, limit);
    const shownTotals = listTotals(totals, fields);
    printJson({ ...pickFields(rest, fields), ...(shownTotals === undefined ? {} : { totals: shownTotals }) });
    return 0;
  }
  const counts = TASK_STATES.filter(state => report.counts[state] > 0).map(state => `${report.counts[state]} ${paintState(state)}`);
  println(heading(`${report.tasks} task${report.tasks === 1 ? '' : 's'}${counts.length > 0 ? `: ${counts.join(', ')}` : ''}`));
  if (report.invalid_records > 0) println(`(${report.invalid_records} record file(s) could not be read and are not counted: see \`orch status\`)`);
  println(`total cost: ${money(report.cost.usd)}, ${report.cost.tokens} tokens`);
  const attempts = Object.entries(report.attempts).sort(([, a], [, b]) => b - a).map(([reason, n]) => `${n} ${reason}`);
  println(`attempts: ${attempts.length === 0 ? 'none yet' : attempts.join(', ')}`);
  if (report.by_role.length > 0) {
    println();
    println(heading('cost by role'));
    const rows = report.by_role.slice(0, limit);
    for (const line of renderTable([
      { key: 'role', header: 'ROLE', cell: r => `${r.role} (${r.phase})` },
      { key: 'calls', header: 'CALLS', cell: r => String(r.calls), right: true },
      { key: 'tokens', header: 'TOKENS', cell: r => String(r.tokens), right: true },
      { key: 'usd', header: 'COST', cell: r => money(r.usd), right: true },
    ], rows)) println(`  ${line}`);
  }
  if (report.by_model.length > 0) {
    println();
    println(heading('cost by model'));
    for (const line of renderTable([
      { key: 'model', header: 'MODEL', cell: m => m.model },
      { key: 'calls', header: 'CALLS', cell: m => String(m.calls), right: true },
      { key: 'tokens', header: 'TOKENS', cell: m => String(m.tokens), right: true },
      { key: 'usd', header: 'COST', cell: m => money(m.usd), right: true },
    ], report.by_model.slice(0, limit))) println(`  ${line}`);
  }
  println();
  println(heading('durations'));
  const d = report.durations;
  if (d.first_at !== null) println(`  span: ${duration(d.span_s)} (${d.first_at} → ${d.last_at})`);
  println(`  finished tasks: ${times(d.finished_tasks)}`);
  for (const phase of d.by_phase) println(`  ${phase.phase} attempts: ${times(phase)}`);
  println();
  println(`done: ${ids(report.done, limit)}`);
  println(`failed: ${ids(report.failed, limit)}`);
  println(`awaiting a human: ${ids(report.awaiting, limit)}${report.awaiting.length > 0 ? ' (see `orch review`)' : ''}`);
  if (report.cancelled.length > 0) println(`cancelled: ${ids(report.cancelled, limit)}`);
  return 0;
}
