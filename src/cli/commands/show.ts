// `orch show ID`: everything about one task: spec, state, steps, attempts, history, cost, what it waits for.
import { describeTask, TASK_DETAIL_FIELDS, type AttemptView, type TaskDetail } from '../../project/show.js';
import type { Step, Transition } from '../../generated/types.js';
import { listTotals, parseFields, parseLimit, pickFields, refuseOffset, type ReadOptions } from '../format/bounds.js';
import { bad, dim, heading, paintState, warn } from '../format/colour.js';
import { renderTable, type Column } from '../format/table.js';
import { duration, money, relative, shorten, when } from '../format/text.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

/** The last `limit` of a list (the most recent ones), and how many were left out. */
function lastOf<T>(items: readonly T[], limit: number): { items: T[]; omitted: number } {
  const last = items.slice(Math.max(0, items.length - limit));
  return { items: last, omitted: items.length - last.length };
}

const STEP_COLUMNS: Column<Step>[] = [
  { key: 'id', header: 'STEP', cell: s => s.id },
  { key: 'state', header: 'STATE', cell: s => s.state },
  { key: 'attempts', header: 'ATT', cell: s => String(s.attempts), right: true },
  { key: 'title', header: 'TITLE', cell: s => s.title ?? s.goal ?? '', max: 60 },
];

/** The commit an attempt made: its checkpoint on the task's branch, or the merge it landed on the target. */
function commitOf(a: AttemptView): string {
  if (a.checkpoint !== null) return a.checkpoint.slice(0, 12);
  return a.merge === null ? '' : `${a.merge.commit.slice(0, 12)} → ${a.merge.target}`;
}

function attemptColumns(root: string, withCommits: boolean, withHosts: boolean): Column<AttemptView>[] {
  return [
    { key: 'n', header: '#', cell: a => String(a.n), right: true },
    { key: 'phase', header: 'PHASE', cell: a => a.phase },
    { key: 'step', header: 'STEP', cell: a => a.step ?? '' },
    // Where each ran, once any ran on another host (a remote executor).
    ...(withHosts ? [{ key: 'host', header: 'HOST', cell: (a: AttemptView) => a.host ?? 'local' }] : []),
    { key: 'reason', header: 'REASON', cell: a => a.reason ?? 'running', paint: (t, a) => (a.reason === 'succeeded' ? t : a.reason === null ? warn(t) : bad(t)) },
    { key: 'exit_code', header: 'EXIT', cell: a => (a.exit_code === null ? (a.signal ?? '') : String(a.exit_code)), right: true },
    { key: 'duration_s', header: 'TOOK', cell: a => (a.duration_s === null ? '' : duration(a.duration_s)), right: true },
    { key: 'cost_usd', header: 'COST', cell: a => (a.cost_usd === null ? '' : money(a.cost_usd)), right: true },
    { key: 'started_at', header: 'STARTED', cell: a => a.started_at.slice(0, 19).replace('T', ' ') },
    // Every checkpoint, with the attempt that made it (isolation worktree only: a column of blanks otherwise).
    ...(withCommits ? [{ key: 'checkpoint', header: 'COMMIT', cell: commitOf }] : []),
    { key: 'artifacts_dir', header: 'ARTIFACTS', cell: a => (a.artifacts_dir.startsWith(`${root}/`) ? a.artifacts_dir.slice(root.length + 1) : a.artifacts_dir) },
  ];
}

const HISTORY_COLUMNS: Column<Transition>[] = [
  { key: 'at', header: 'TIME', cell: h => h.at.slice(0, 19).replace('T', ' ') },
  { key: 'move', header: 'FROM → TO', cell: h => `${h.from} → ${h.to}` },
  { key: 'actor', header: 'ACTOR', cell: h => h.actor },
  { key: 'reason', header: 'REASON', cell: h => h.reason, max: 80 },
];

function printDetail(detail: TaskDetail, root: string, limit: number): void {
  const now = Date.now();
  println(`${heading(detail.id)}  ${shorten(detail.title, 100)}`);
  if (detail.state === null) {
    println(`state: ${warn('not taken up yet')} (no record: the orchestrator has not seen this spec; run \`orch\`)`);
  } else {
    println(`state: ${paintState(detail.state)} since ${when(detail.state_since ?? '', now)} · generation ${detail.generation} · rev ${detail.rev}`);
  }
  const specNote = { same: '', changed: warn(' (changed since: it runs again)'), missing: warn(' (deleted)'), invalid: bad(' (now invalid: see `orch status`)') }[detail.spec_file_state];
  const spec = detail.spec;
  println(`spec: ${detail.spec_file}${specNote} · workflow ${spec.workflow} · priority ${spec.priority}${spec.risk === null ? '' : ` · risk ${spec.risk}`}${spec.area === null ? '' : ` · area ${spec.area}`}`);
  if (spec.goal !== null) println(`goal: ${shorten(spec.goal, 200)}`);
  if (spec.depends_on.length > 0) println(`depends on: ${spec.depends_on.join(', ')}`);
  const limits = [
    spec.timeout_s === null ? '' : `timeout ${spec.timeout_s}s`, spec.deadline_s === null ? '' : `deadline ${spec.deadline_s}s`,
    spec.max_cost_usd === null ? '' : `budget ${money(spec.max_cost_usd)}`, spec.max_tokens === null ? '' : `max ${spec.max_tokens} tokens`,
    spec.env_keys.length === 0 ? '' : `env ${spec.env_keys.join(', ')}`,
  ].filter(text => text !== '');
  if (limits.length > 0) println(`limits: ${limits.join(' · ')}`);
  if (!detail.recorded) return;
  if (detail.worktree !== null) {
    const w = detail.worktree;
    const last = detail.attempts.filter(a => a.checkpoint !== null).at(-1)?.checkpoint ?? null;
    println(`worktree: ${w.path} · branch ${w.branch} · base ${w.base_sha.slice(0, 12)}${last === null ? ' · no checkpoint yet' : ` · last checkpoint ${last.slice(0, 12)}`}`);
    const merged = detail.attempts.filter(a => a.merge !== null).at(-1)?.merge ?? null;
    if (merged !== null) println(`merged: into ${merged.target} · ${merged.commit.slice(0, 12)} (onto ${merged.onto.slice(0, 12)})`);
  }
  if (detail.phase !== null && detail.state !== 'DONE' && detail.state !== 'FAILED' && detail.state !== 'CANCELLED') {
    println(`phase: ${detail.phase}${detail.step === null ? '' : `, step ${detail.step}`} (${detail.phase_attempts} attempt(s) spent on it)`);
  }
  if (detail.next_attempt_at !== null) println(`next attempt: not before ${when(detail.next_attempt_at, now)}`);
  if (detail.deadline_at !== null) println(`deadline: ${when(detail.deadline_at, now)}`);
  if (detail.awaiting !== null) {
    const a = detail.awaiting;
    println(`${warn('waiting for a human')} since ${when(a.since, now)}: ${a.kind}: ${shorten(a.reason, 200)} (see \`orch review\`)`);
  }
  if (detail.last_error !== null) {
    const e = detail.last_error;
    const context = [e.phase, e.reason, relative(e.at, now)].filter(text => text !== undefined).join(', ');
    println(`last error: ${bad(shorten(e.message, 200))} ${dim(`(${context})`)}`);
  }
  if (detail.last_review !== null) {
    const r = detail.last_review;
    println(`last review: ${r.outcome} by ${r.by}${r.phase === undefined ? '' : ` (${r.phase})`} ${relative(r.at, now)}${r.notes === undefined ? '' : `: ${shorten(r.notes, 200)}`}`);
  }
  println(`cost: ${money(detail.cost.usd)}, ${detail.cost.tokens} tokens`);
  for (const role of detail.cost.by_role) {
    const model = [role.provider, role.model].filter(Boolean).join('/');
    println(`  ${role.role} (${role.phase})${model === '' ? '' : ` ${model}`}: ${money(role.usd)}, ${role.tokens} tokens, ${role.calls} call(s)`);
  }
  const section = <T>(title: string, columns: Column<T>[], items: readonly T[]): void => {
    if (items.length === 0) return;
    const shown = lastOf(items, limit);
    println();
    println(heading(`${title} (${items.length}${shown.omitted > 0 ? `, last ${shown.items.length} shown: --limit N for more` : ''})`));
    for (const line of renderTable(columns, shown.items, dim)) println(`  ${line}`);
  };
  section('steps', STEP_COLUMNS, detail.steps);
  section('attempts', attemptColumns(root, detail.worktree !== null, detail.attempts.some(a => a.host !== null)), detail.attempts);
  section('history', HISTORY_COLUMNS, detail.history);
}

export async function showCommand(id: string, options: ReadOptions): Promise<number> {
  const paths = projectPaths(options);
  refuseOffset(options.offset, 'orch show');
  const fields = parseFields(options.fields, TASK_DETAIL_FIELDS, 'orch show');
  const limit = parseLimit(options.limit);
  const detail = await describeTask(paths, id);
  if (options.json === true) {
    const attempts = lastOf(detail.attempts, limit);
    const history = lastOf(detail.history, limit);
    const steps = lastOf(detail.steps, limit);
    const bounded = { ...detail, attempts: attempts.items, history: history.items, steps: steps.items };
    // How many of each list there are: the lists hold the last --limit of them.
    const totals = listTotals({ attempts: detail.attempts.length, history: detail.history.length, steps: detail.steps.length }, fields);
    printJson({ ...pickFields(bounded, fields), ...(totals === undefined ? {} : { totals }) });
    return 0;
  }
  printDetail(detail, paths.root, limit);
  return 0;
}
