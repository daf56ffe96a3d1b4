// `orch status`: is an orchestrator running, what every task is doing, and which files are invalid.
import { collectStatus, type SessionView } from '../../project/status.js';
import { TASK_ROW_FIELDS, type TaskRow } from '../../project/status-row.js';
import type { InvalidFile } from '../../project/read-state.js';
import { TASK_STATES } from '../../machine/states.js';
import { page, pageInfo, parseFields, type Page, parseLimit, parseOffset, pickFields, type ReadOptions } from '../format/bounds.js';
import { bad, dim, good, heading, paintState, warn } from '../format/colour.js';
import { chooseColumns, renderTable, type Column } from '../format/table.js';
import { money, relative, when } from '../format/text.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

const DEFAULT_COLUMNS = ['id', 'state', 'phase', 'step', 'host', 'attempts', 'waiting_until', 'waiting_for', 'cost_usd', 'last_error'] as const;

function columns(now: number): Column<TaskRow>[] {
  const text = (key: keyof TaskRow, header: string, max?: number): Column<TaskRow> => ({
    key, header, cell: row => (row[key] === null ? '' : String(row[key])), ...(max === undefined ? {} : { max }),
  });
  return [
    text('id', 'ID'),
    text('title', 'TITLE', 40),
    { key: 'state', header: 'STATE', cell: row => row.state, paint: (t, row) => paintState(row.state, t) },
    text('activity', 'ACTIVITY'),
    text('phase', 'PHASE'),
    text('step', 'STEP'),
    { key: 'attempts', header: 'ATT', cell: row => String(row.attempts), right: true },
    { key: 'phase_attempts', header: 'PHASE ATT', cell: row => String(row.phase_attempts), right: true },
    text('worker', 'WORKER'),
    text('host', 'HOST'),
    { key: 'since', header: 'SINCE', cell: row => (row.since === null ? '' : relative(row.since, now)) },
    { key: 'waiting_until', header: 'RETRY', cell: row => (row.waiting_until === null ? '' : relative(row.waiting_until, now)) },
    text('waiting_for', 'WAITING FOR', 40),
    { key: 'cost_usd', header: 'COST', cell: row => (row.cost_usd > 0 ? money(row.cost_usd) : ''), right: true },
    { key: 'tokens', header: 'TOKENS', cell: row => (row.tokens > 0 ? String(row.tokens) : ''), right: true },
    { key: 'last_error', header: 'LAST ERROR', cell: row => row.last_error ?? '', max: 60, paint: t => bad(t) },
    { key: 'recorded', header: 'RECORD', cell: row => (row.recorded ? 'yes' : 'no') },
  ];
}

function sessionLine(session: SessionView, now: number): string {
  const who = `pid ${session.pid ?? '?'} on ${session.host ?? '?'}, started ${session.since === null ? '?' : when(session.since, now)}`;
  switch (session.state) {
    case 'running':
      return `${good('orchestrator running')}: run ${session.run_id} (${who}); last heartbeat ${session.heartbeat_at === null ? '?' : relative(session.heartbeat_at, now)}`;
    case 'stale':
      return `${warn('orchestrator stale')}: run ${session.run_id} (${who}): ${session.reason}; run \`orch --resume\` to carry on`;
    case 'stopped':
      return `orchestrator stopped: last run ${session.run_id} (${who})`;
    case 'none':
      return 'no orchestrator has run here yet: run `orch` to start one';
    case 'unreadable':
      return `${bad('session file unreadable')}: ${session.reason}`;
    default: {
      const never: never = session.state;
      throw new Error(`unknown session state ${String(never)}`);
    }
  }
}

function invalidLine(file: InvalidFile): string {
  const where = file.line === null ? file.path : `${file.path}:${file.line}:${file.column ?? 1}`;
  return `${bad('invalid')} ${where}: ${file.reason}`;
}

export async function statusCommand(options: ReadOptions): Promise<number> {
  const paths = projectPaths(options);
  const fields = parseFields(options.fields, TASK_ROW_FIELDS, 'orch status');
  const limit = parseLimit(options.limit);
  const offset = parseOffset(options.offset);
  const now = Date.now();
  const report = await collectStatus(paths, { now, limit, offset });
  // The report holds only this window's rows (building a row reads its record): the page is theirs.
  const rows: Page<TaskRow> = { items: report.tasks, total: report.tasks_total, offset, limit, more: offset + report.tasks.length < report.tasks_total };
  const invalid = page(report.invalid, limit);
  if (options.json === true) {
    printJson({
      root: report.root,
      state_dir: report.state_dir,
      session: report.session,
      counts: report.counts,
      tasks: rows.items.map(row => pickFields(row, fields)),
      page: pageInfo(rows),
      invalid: invalid.items,
      invalid_total: invalid.total,
      rejected_edits: report.rejected_edits.slice(0, limit),
    });
    return 0;
  }
  println(sessionLine(report.session, now));
  println();
  if (report.tasks_total === 0) {
    println(`no tasks yet: drop a task file into ${report.state_dir}/tasks/`);
  } else {
    const all = columns(now);
    // The default columns skip what is empty for every row shown; asked-for columns always show.
    const shown = fields ?? DEFAULT_COLUMNS.filter(key => rows.items.some(row => row[key] !== null && row[key] !== 0 && row[key] !== ''));
    for (const line of renderTable(chooseColumns(all, shown, DEFAULT_COLUMNS), rows.items, heading)) println(line);
    if (rows.more || rows.offset > 0) {
      println(dim(`(tasks ${rows.offset + 1}-${rows.offset + rows.items.length} of ${rows.total}; --limit N and --offset N for others)`));
    }
    println();
    const counts = TASK_STATES.filter(state => report.counts[state] > 0).map(state => `${report.counts[state]} ${paintState(state)}`);
    println(`${report.tasks_total} task${report.tasks_total === 1 ? '' : 's'}: ${counts.join(', ')}`);
  }
  if (invalid.total > 0) {
    println();
    println(heading(`${invalid.total} invalid file${invalid.total === 1 ? '' : 's'} (run \`orch validate\` for every problem):`));
    for (const file of invalid.items) println(`  ${invalidLine(file)}`);
    if (invalid.more) println(dim(`  … and ${invalid.total - invalid.items.length} more`));
  }
  if (report.rejected_edits.length > 0) {
    println();
    println(`${report.rejected_edits.length} refused hand edit(s) kept beside the records: ${report.rejected_edits.slice(0, 5).join(', ')}${report.rejected_edits.length > 5 ? ', …' : ''}`);
  }
  return 0;
}
