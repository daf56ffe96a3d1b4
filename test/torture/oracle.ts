// The torture suite's oracle (no tests of its own): after a crash, a fault or a hostile file, every
// invariant of PRODUCT.md §2, §7 and §8 is checked on the state dir as it is on disk. It is built on
// `orch doctor`'s library side (checkProject) and adds what doctor does not look at: the record's own
// consistency (legal states, its history as a chain of legal hops, attempts), the run log against the
// records, decisions applied once, temp files anywhere, files outside the state dir, and processes
// of the run still alive. test/torture/oracle-can-fail.ts proves each check can fail.
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { SessionRecord, TaskRecord } from '../../src/generated/types.js';
import { openAttempt } from '../../src/machine/record.js';
import { STEP_STATES, TASK_STATES } from '../../src/machine/states.js';
import { isLegal } from '../../src/machine/transitions.js';
import { checkProject, type DoctorKind } from '../../src/project/doctor.js';
import { parseTempFileName, TEMP_DIR_NAME } from '../../src/store/durable-write.js';
import { loadAll, loadIfExists } from '../../src/store/load.js';
import type { StatePaths } from '../../src/store/paths.js';
import { bootId, LIVENESS, livenessOf } from '../../src/store/process-identity.js';
import { safeLstat, safeReaddir } from './fs-safe.js';
import { checkLogs } from './oracle-logs.js';
import { compareOutside, type OutsideSnapshot } from './outside.js';
import { markedProcesses, settledMarkedProcesses } from './processes.js';
import { projectPaths } from './project.js';

export const INVARIANTS = {
  /** `orch doctor` finds a problem this phase does not allow (see DOCTOR_ALLOWED). */
  doctor: 'doctor',
  /** A machine-owned file (record, worker, session, inbox decision, config) fails to load. */
  file_invalid: 'file_invalid',
  /** A task spec fails to load (hostile-input tests allow this: the file is the human's). */
  spec_invalid: 'spec_invalid',
  /** A record's state or a step's state is not one of the machine's. */
  state_illegal: 'state_illegal',
  /** A record's history is not a chain of legal hops from NEW to its state. */
  history: 'history',
  /** Attempts out of order, more than one open, or one closed without a reason. */
  attempts: 'attempts',
  /** A record whose rev is too low for what it holds, or whose epoch is past the session's. */
  rev_chain: 'rev_chain',
  /** A temp file whose writer is dead (after a resume: it must have been swept). */
  temp_file: 'temp_file',
  /** A symlink, FIFO, socket or device inside a machine-owned part of the state dir. */
  special_file: 'special_file',
  /** A file outside the state dir created, changed or removed. */
  outside_write: 'outside_write',
  /** A line of events.jsonl that is not a valid event, or a markdown line that breaks the §9 grammar. */
  log_invalid: 'log_invalid',
  /** An event that names a task with no record, or a record rev it does not have yet. */
  log_rev: 'log_rev',
  /** A task's record revs going backwards in the order events were appended. */
  log_order: 'log_order',
  /** The same event appended twice. */
  log_duplicate: 'log_duplicate',
  /** The markdown log and events.jsonl disagree on how many entries there are. */
  log_mismatch: 'log_mismatch',
  /** A decision applied twice, or more human moves out of AWAITING_HUMAN than decisions given. */
  decision_twice: 'decision_twice',
  /** After a resume: a decision file still in the inbox. */
  inbox_left: 'inbox_left',
  /** After a resume: the session not released. */
  session: 'session',
  /** After a resume: a process of the run (it carries the marker) still alive. */
  process_alive: 'process_alive',
  /** After a crash: a live process of the run that no open attempt names (nothing will ever stop it). */
  process_untracked: 'process_untracked',
  /** A refused hand edit kept beside a record (`<id>.rejected-<time>.json`) in a run where nobody edited a record. */
  rejected_copy: 'rejected_copy',
} as const;
export type Invariant = (typeof INVARIANTS)[keyof typeof INVARIANTS];

export interface Violation {
  invariant: Invariant;
  path: string;
  message: string;
}

/**
 * `crashed`: the orchestrator was killed and nothing ran since; open attempts, their orphaned
 * processes, a dead session and dead writers' temp files are expected. `resumed`: a `--resume` run
 * has ended; none of those may be left.
 */
export type OraclePhase = 'crashed' | 'resumed';

/** Doctor's findings that are expected in each phase. A lock dir nobody refreshes is taken over by the next writer: never a violation. */
const DOCTOR_ALLOWED: { readonly [P in OraclePhase]: readonly DoctorKind[] } = {
  crashed: ['dead_session', 'temp_file', 'stale_lock', 'open_attempt', 'orphan_process', 'config_warning'],
  resumed: ['stale_lock', 'config_warning'],
};

export interface OracleOptions {
  phase: OraclePhase;
  /** The value of ORCH_TORTURE_ID the run's processes carry. */
  marker?: string;
  /** Taken with snapshotOutside before the run. */
  outside?: OutsideSnapshot;
  /** Decisions given per task: human moves out of AWAITING_HUMAN may not outnumber them. */
  decisions?: ReadonlyMap<string, number>;
  /** Invariants this scenario breaks on purpose (a hostile spec stays invalid). */
  allow?: readonly Invariant[];
  /** Markdown entries that may lack their events.jsonl twin (appends that failed on a full disk). */
  logSlack?: number;
  /** Records were edited by hand in this scenario: refused copies beside them are expected. */
  handEdits?: boolean;
}

/** Checks every invariant; returns the violations (empty: the state dir is sound). */
export async function checkInvariants(root: string, options: OracleOptions): Promise<Violation[]> {
  const paths = projectPaths(root);
  const out: Violation[] = [];
  const add = (invariant: Invariant, path: string, message: string): void => {
    out.push({ invariant, path, message });
  };
  const session = (await loadIfExists('session', paths.session).catch(() => undefined))?.doc;
  const records = await checkRecords(paths, session, add);
  await checkDoctor(paths, options.phase, add);
  checkTempFiles(paths.stateDir, options.phase, add);
  checkSpecialFiles(paths, add);
  checkLogs(paths, records, options, add);
  if (options.handEdits !== true) {
    for (const name of safeReaddir(paths.records)) {
      if (name.includes('.rejected-')) add('rejected_copy', join(paths.records, name), 'a record write was refused as a hand edit, and nobody edited a record');
    }
  }
  if (options.outside !== undefined) for (const change of compareOutside(options.outside)) add('outside_write', change.path, change.message);
  if (options.phase === 'resumed') {
    for (const name of safeReaddir(paths.inbox)) {
      if (name.endsWith('.json') && !name.startsWith('.')) add('inbox_left', join(paths.inbox, name), 'a decision file is still in the inbox after the run');
    }
    if (session !== undefined && session.status !== 'stopped') add('session', paths.session, `the session is ${session.status} after the run ended`);
  }
  if (options.marker !== undefined) await checkProcesses(options.marker, options.phase, paths.stateDir, records, add);
  const allowed = new Set(options.allow ?? []);
  return out.filter(v => !allowed.has(v.invariant));
}

export type Add = (invariant: Invariant, path: string, message: string) => void;

async function checkDoctor(paths: StatePaths, phase: OraclePhase, add: Add): Promise<void> {
  const report = await checkProject(paths);
  for (const problem of report.problems) {
    if (problem.severity !== 'error' || DOCTOR_ALLOWED[phase].includes(problem.kind)) continue;
    if (problem.kind === 'invalid_file') {
      add(problem.path.startsWith(`${paths.tasks}/`) ? 'spec_invalid' : 'file_invalid', problem.path, problem.message);
    } else {
      add('doctor', problem.path, `${problem.kind}: ${problem.message}`);
    }
  }
}

async function checkRecords(paths: StatePaths, session: SessionRecord | undefined, add: Add): Promise<Map<string, TaskRecord>> {
  const records = new Map<string, TaskRecord>();
  const loaded = await loadAll('record', paths.records);
  for (const failure of loaded.errors) add('file_invalid', failure.path, failure.error.message);
  for (const { path, doc } of loaded.items) {
    if (relative(paths.records, path) !== `${doc.id}.json`) {
      add('file_invalid', path, `holds task ${doc.id}, not the one its name says`);
      continue;
    }
    records.set(doc.id, doc);
    checkRecord(path, doc, session, add);
  }
  return records;
}

function checkRecord(path: string, record: TaskRecord, session: SessionRecord | undefined, add: Add): void {
  if (!TASK_STATES.includes(record.state)) add('state_illegal', path, `state ${String(record.state)} is not a task state`);
  for (const step of record.steps) if (!STEP_STATES.includes(step.state)) add('state_illegal', path, `step ${step.id} is in ${String(step.state)}`);

  let at: TaskRecord['state'] = 'NEW';
  record.history.forEach((hop, i) => {
    if (hop.from !== at) add('history', path, `history[${i}] starts from ${hop.from}, but the task was in ${at}`);
    else if (!isLegal(hop.from, hop.to, hop.actor)) add('history', path, `history[${i}]: ${hop.from} → ${hop.to} by ${hop.actor} is not a legal transition`);
    at = hop.to;
  });
  if (at !== record.state) add('history', path, `history ends in ${at}, but the record is ${record.state}`);

  let open = 0;
  record.attempts.forEach((attempt, i) => {
    const previous = record.attempts[i - 1];
    if (previous !== undefined && attempt.n <= previous.n) add('attempts', path, `attempt ${attempt.n} follows attempt ${previous.n}`);
    if (attempt.ended_at === undefined) {
      open += 1;
      if (i !== record.attempts.length - 1) add('attempts', path, `attempt ${attempt.n} is open but not the last one`);
    } else if (attempt.reason === undefined) {
      add('attempts', path, `attempt ${attempt.n} ended without a reason`);
    }
  });
  if (open > 1) add('attempts', path, `${open} attempts are open (at most one may be)`);

  // Every attempt's start is a write of its own (the first may be the write that creates the record),
  // and every attempt that ended another: the rev cannot be lower.
  const ended = record.attempts.filter(a => a.ended_at !== undefined).length;
  if (record.rev < record.attempts.length + ended) add('rev_chain', path, `rev ${record.rev} is lower than its ${record.attempts.length} attempts allow`);
  if (session !== undefined && record.epoch > session.epoch) add('rev_chain', path, `written by epoch ${record.epoch}, past the session's epoch ${session.epoch}`);
}

/** Every `.orch-tmp` dir under the state dir (not only those the sweeper knows). */
function checkTempFiles(stateDir: string, phase: OraclePhase, add: Add): void {
  const visit = (dir: string): void => {
    for (const name of safeReaddir(dir)) {
      const path = join(dir, name);
      const stat = safeLstat(path);
      if (stat?.isDirectory() !== true) continue;
      if (name !== TEMP_DIR_NAME) {
        if (!name.endsWith('.lock')) visit(path);
        continue;
      }
      for (const temp of safeReaddir(path)) {
        const writer = parseTempFileName(temp);
        const dead = writer === undefined || livenessOf({ ...writer, boot_id: bootId(), host: hostname() }) === LIVENESS.dead;
        if (dead && phase === 'resumed') add('temp_file', join(path, temp), `temp file of a dead writer${writer === undefined ? ' (unknown)' : ` (pid ${writer.pid})`} was not swept`);
      }
    }
  };
  visit(stateDir);
}

/** Machine-owned parts hold only regular files and dirs: no symlink, FIFO, socket or device. */
function checkSpecialFiles(paths: StatePaths, add: Add): void {
  const visit = (path: string): void => {
    const stat = safeLstat(path);
    if (stat === undefined) return;
    if (stat.isDirectory()) {
      for (const name of safeReaddir(path)) visit(join(path, name));
    } else if (!stat.isFile()) {
      add('special_file', path, `is ${stat.isSymbolicLink() ? `a symlink to ${readlinkSync(path)}` : 'not a regular file'}`);
    }
  };
  for (const path of [paths.machine, paths.runs, paths.events, paths.runLog, paths.config]) visit(path);
}

/**
 * In the wreck every command of the workload is named by an open attempt, or (killed between its spawn
 * and the write of its identity: no spawn gate) carries the session marker of this state dir, by which
 * the resume finds it. After the resume, none runs.
 */
async function checkProcesses(marker: string, phase: OraclePhase, stateDir: string, records: ReadonlyMap<string, TaskRecord>, add: Add): Promise<void> {
  const groups = new Set<number>();
  for (const record of records.values()) {
    const process = openAttempt(record)?.process;
    if (process !== undefined) groups.add(process.pgid);
  }
  for (const p of phase === 'crashed' ? await settledMarkedProcesses(marker) : markedProcesses(marker)) {
    if (phase === 'resumed') add('process_alive', `/proc/${p.pid}`, `still running after the resume: ${p.command}`);
    else if (!groups.has(p.pgid) && p.stateDir !== resolve(stateDir)) {
      add('process_untracked', `/proc/${p.pid}`, `runs (group ${p.pgid}), no open attempt names it, and it carries no session marker of ${stateDir}: ${p.command}`);
    }
  }
}

/** One line per violation, for a test's failure message. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map(v => `${v.invariant}: ${v.path}: ${v.message}`).join('\n');
}
