// The board's timeline of a run and its cost charts (specs/serve.md, "Timeline and costs"): two
// read-only routes over the task records, never their output files. At 10,000 tasks, reading and
// validating every record costs seconds, and the board asks again at each change: so the records are
// held per server in the engine's CachedFolder (a file is read again only when its stat signature
// changed: a look at 10,000 unchanged files is 10,000 lstats), slimmed to what these views show.
import { isDeepStrictEqual } from 'node:util';
import type { ApiCosts, ApiTimeline, Attempt, TaskRecord } from '../generated/types.js';
import { firstLine } from '../machine/messages.js';
import { compareText } from '../project/read-state.js';
import { describeSession } from '../project/status.js';
import { summarizeRecords } from '../project/summary.js';
import { summaryFilePath } from '../runtime/run-report.js';
import { CachedFolder } from '../store/cached-folder.js';
import { isDocumentName, loadDocument, loadIfExists } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { intParam } from './http-util.js';

/** Rows of the timeline one answer carries by default, and at most. */
export const TIMELINE_PAGE = 200;
export const TIMELINE_PAGE_MAX = 500;
/** Tasks the cost answer names by default, and at most; the others are summed as `rest`. */
export const COSTS_TOP = 20;
export const COSTS_TOP_MAX = 100;

export const INSIGHTS = ['timeline', 'costs'] as const;
export type Insight = (typeof INSIGHTS)[number];

type TimelineRow = ApiTimeline['tasks'][number];
type TimelineBar = TimelineRow['attempts'][number];
type TimelineWait = TimelineRow['waits'][number];
type RunWindow = ApiTimeline['window'];

/** The answer of `GET /api/v1/timeline` or `GET /api/v1/costs`. */
export async function insightOf(paths: StatePaths, insight: Insight, url: URL): Promise<ApiTimeline | ApiCosts> {
  switch (insight) {
    case 'timeline':
      return timelineOf(paths, url);
    case 'costs':
      return costsOf(paths, url);
    default: {
      const never: never = insight;
      throw new Error(`no insight ${String(never)}`);
    }
  }
}

async function timelineOf(paths: StatePaths, url: URL): Promise<ApiTimeline> {
  const offset = intParam(url, 'offset', 0);
  const limit = intParam(url, 'limit', TIMELINE_PAGE, TIMELINE_PAGE_MAX);
  const now = new Date().toISOString();
  const window = await runWindow(paths, now);
  const { records } = await heldRecords(paths);
  const rows = records.flatMap(record => rowOf(record, window, now) ?? []);
  rows.sort((a, b) => ms(a.first_at) - ms(b.first_at) || compareText(a.id, b.id));
  return { window, now, total: rows.length, offset, limit, tasks: rows.slice(offset, offset + limit) };
}

/** What the records hold, as `orch summary` sums it (summarizeRecords), and the costliest tasks by name. */
async function costsOf(paths: StatePaths, url: URL): Promise<ApiCosts> {
  const limit = intParam(url, 'limit', COSTS_TOP, COSTS_TOP_MAX);
  const { records, invalid } = await heldRecords(paths);
  const summary = summarizeRecords(records, invalid);
  const ranked = records
    .map(record => ({ id: record.id, title: record.spec.title ?? '', state: record.state, usd: record.cost.usd, tokens: record.cost.tokens }))
    .sort((a, b) => b.usd - a.usd || b.tokens - a.tokens || compareText(a.id, b.id));
  const rest = ranked.slice(limit);
  return {
    total: summary.cost,
    tasks: {
      count: ranked.length,
      top: ranked.slice(0, limit),
      rest: { count: rest.length, usd: rest.reduce((sum, task) => sum + task.usd, 0), tokens: rest.reduce((sum, task) => sum + task.tokens, 0) },
    },
    by_model: summary.by_model,
    by_role: summary.by_role,
    invalid_records: summary.invalid_records,
  };
}

/**
 * The run to show: the one holding the session, up to now; else the last one, from its summary.json
 * (or up to its last heartbeat when it died before writing one); no run at all: everything recorded.
 */
async function runWindow(paths: StatePaths, now: string): Promise<RunWindow> {
  const { session } = await describeSession(paths);
  if (session.run_id === null || session.since === null) return { run_id: null, from: null, to: now, live: false };
  if (session.state === 'running') return { run_id: session.run_id, from: session.since, to: now, live: true };
  const summary = (await loadIfExists('summary', summaryFilePath(paths, session.run_id)).catch(() => undefined))?.doc;
  return { run_id: session.run_id, from: summary?.started_at ?? session.since, to: summary?.ended_at ?? session.heartbeat_at ?? now, live: false };
}

/** The task's row when it had an attempt or a state change in the window; the attempts and waits that overlap it. */
function rowOf(record: TaskRecord, window: RunWindow, now: string): TimelineRow | undefined {
  const overlaps = (from: string, until: string | null): boolean => (window.from === null || ms(until ?? now) >= ms(window.from)) && ms(from) <= ms(window.to);
  const attempts = record.attempts.filter(attempt => overlaps(attempt.started_at, attempt.ended_at ?? null));
  const changes = record.history.filter(change => overlaps(change.at, change.at));
  if (attempts.length === 0 && changes.length === 0) return undefined;
  const human = humanWaits(record);
  const waits = [...human, ...backoffWaits(record, human)].filter(wait => overlaps(wait.from, wait.until)).sort((a, b) => ms(a.from) - ms(b.from));
  const first = Math.min(...attempts.map(attempt => ms(attempt.started_at)), ...changes.map(change => ms(change.at)));
  const firstAt = window.from !== null && first < ms(window.from) ? window.from : new Date(first).toISOString();
  return { id: record.id, title: record.spec.title ?? '', state: record.state, first_at: firstAt, attempts: attempts.map(attempt => barOf(attempt, record.attempts)), waits };
}

function barOf(attempt: Attempt, all: readonly Attempt[]): TimelineBar {
  return {
    n: attempt.n,
    phase: attempt.phase,
    step: attempt.step_id ?? null,
    started_at: attempt.started_at,
    ended_at: attempt.ended_at ?? null,
    result: resultOf(attempt, all),
    reason: attempt.reason ?? null,
    outcome: attempt.outcome ?? null,
    exit_code: attempt.exit_code ?? null,
    cost_usd: attempt.cost_usd ?? null,
    tokens: attempt.tokens ?? null,
    // Named as `orch summary` names a model: provider/model.
    model: attempt.model === undefined ? null : [attempt.provider, attempt.model].filter(Boolean).join('/'),
  };
}

/** ok, running, or for one that did not succeed: retried when the same work ran again, else failed. */
function resultOf(attempt: Attempt, all: readonly Attempt[]): TimelineBar['result'] {
  if (attempt.ended_at === undefined) return 'running';
  if (attempt.reason === 'succeeded') return 'ok';
  return all.some(later => later.n > attempt.n && sameWork(later, attempt)) ? 'retried' : 'failed';
}

function sameWork(a: Attempt, b: Attempt): boolean {
  return a.phase === b.phase && a.step_id === b.step_id && (a.generation ?? 1) === (b.generation ?? 1);
}

/** Each stay in AWAITING_HUMAN, from the record's history; the last one open while nobody answered. */
function humanWaits(record: TaskRecord): TimelineWait[] {
  const waits: TimelineWait[] = [];
  let open: TimelineWait | undefined;
  for (const change of record.history) {
    if (open !== undefined && change.from === 'AWAITING_HUMAN') {
      waits.push({ ...open, until: change.at });
      open = undefined;
    }
    if (change.to === 'AWAITING_HUMAN') open = { kind: 'human', from: change.at, until: null, reason: change.reason };
  }
  return open === undefined ? waits : [...waits, open];
}

/**
 * From an attempt that did not succeed to the next attempt, when that one retries the same work (or,
 * after the last attempt, to the record's next_attempt_at): time the task waited, not worked. A gap
 * that a stay with a person spans is theirs, not a backoff (it is drawn once, as a human wait).
 */
function backoffWaits(record: TaskRecord, human: readonly TimelineWait[]): TimelineWait[] {
  const waits: TimelineWait[] = [];
  record.attempts.forEach((attempt, i) => {
    if (attempt.ended_at === undefined || attempt.reason === 'succeeded') return;
    const next = record.attempts[i + 1];
    const until = next === undefined ? record.next_attempt_at : sameWork(next, attempt) ? next.started_at : undefined;
    if (until === undefined) return;
    const from = attempt.ended_at;
    if (human.some(wait => ms(wait.from) < ms(until) && ms(wait.until ?? until) > ms(from))) return;
    const work = attempt.step_id === undefined ? attempt.phase : `${attempt.phase} ${attempt.step_id}`;
    waits.push({ kind: 'backoff', from, until, reason: `${attempt.reason ?? 'failed'}: ${work} retried` });
  });
  return waits;
}

function ms(time: string): number {
  return Date.parse(time);
}

/**
 * A record without what these views never show (the spec's texts, the plan, checks' output, process
 * identities, error texts): 10,000 held records stay a few MB. Still a TaskRecord, so `orch
 * summary`'s own summarizeRecords sums them.
 */
function slim(record: TaskRecord): TaskRecord {
  const { spec, steps: _steps, feedback: _feedback, last_review: _review, ...kept } = record;
  return {
    ...kept,
    spec: { title: spec.title ?? firstLine(spec.goal ?? '') },
    steps: [],
    attempts: record.attempts.map(({ process: _process, checks: _checks, error: _error, spec_hash: _hash, ...attempt }) => attempt),
  };
}

interface HeldFolder {
  folder: CachedFolder<TaskRecord>;
  /** The look in progress: looks run one after another, so two never read the same changed file at once. */
  looking: Promise<unknown>;
}

/** Per server (its StatePaths), gone with it. */
const held = new WeakMap<StatePaths, HeldFolder>();

/** Every good record as of now (slimmed), and how many files failed to load. */
async function heldRecords(paths: StatePaths): Promise<{ records: TaskRecord[]; invalid: number }> {
  let entry = held.get(paths);
  if (entry === undefined) {
    const load = async (path: string): Promise<TaskRecord> => slim((await loadDocument('record', path)).doc);
    entry = { folder: new CachedFolder({ dir: paths.records, load, accept: isDocumentName, same: isDeepStrictEqual, now: Date.now }), looking: Promise.resolve() };
    held.set(paths, entry);
  }
  const { folder } = entry;
  const look = entry.looking.then(() => folder.refreshAll());
  entry.looking = look.catch(() => undefined);
  await look;
  const records: TaskRecord[] = [];
  let invalid = 0;
  for (const name of folder.names()) {
    const result = folder.get(name);
    if (result?.ok === true) records.push(result.value);
    else invalid += 1;
  }
  return { records, invalid };
}
