// `orch doctor` (PRODUCT.md §12): everything that is wrong with a state dir, as a flat list of
// problems, each naming its kind, its path and what to do. checkProject only looks (a test's invariant
// checker can call it after every step); repairProblems does the repairs that are safe whoever else
// runs: temp files of dead writers, locks of dead holders, process groups nobody owns.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { ProcessIdentity, TaskRecord } from '../generated/types.js';
import { systemClock, type Clock } from '../clock.js';
import { errnoCode } from '../errors.js';
import { openAttempt } from '../machine/record.js';
import { TASK_STATE_INFO } from '../machine/states.js';
import { stopProcessGroup, STOP_RESULT } from '../runner/kill-group.js';
import { listGroupMembers, readProcessStat } from '../runner/process-group.js';
import { foreignMarkedGroups, identityOfMarked } from '../runner/session-marker.js';
import { DEFAULT_KILL_GRACE_MS } from '../runner/run-command.js';
import { TEMP_DIR_NAME, parseTempFileName } from '../store/durable-write.js';
import { archivedOriginal } from '../store/finished-archive.js';
import { loadAll, loadDocument, loadIfExists } from '../store/load.js';
import { updateLocked } from '../store/fenced-update.js';
import { judgeLock, LOCK_STALE_MS, LOCK_STATES, reapLock, withLock } from '../store/lock.js';
import type { StatePaths } from '../store/paths.js';
import { LIVENESS, bootId, livenessOf } from '../store/process-identity.js';
import { checkSeal } from '../store/record-seal.js';
import { judgeEdit } from '../runtime/hand-edit.js';
import { describeHolder, judgeHolder, readSession, HOLDER_STATES } from '../store/session.js';
import { crashPoint } from '../testing/crash-points.js';
import { TEMP_MAX_AGE_MS, sweepTempFiles, tempFileDirs } from '../store/temp-sweep.js';
import { checkAgents } from './agent-check.js';
import { validateProject } from './validate.js';
import { checkWorktrees, removeFoundWorktree, type WorktreeFinding } from '../worktree/worktree-check.js';
import { setupOf, type WorktreeSetup } from '../worktree/worktree-setup.js';
import { checkExecutors } from '../executors/executor-check.js';

export const DOCTOR_KINDS = {
  /** A file that fails to load: JSON syntax, schema, version, unsafe id (from validateProject). */
  invalid_file: 'invalid_file',
  /** A config warning (a command not found on PATH): reported, but the dir is still healthy. */
  config_warning: 'config_warning',
  /** session.json names an orchestrator that is provably dead and was never taken over. */
  dead_session: 'dead_session',
  /** A temp file in `.orch-tmp/` whose writer is dead (or that is older than any write takes). */
  temp_file: 'temp_file',
  /** A `<file>.lock` dir whose holder is provably dead (or, out of sight, stopped refreshing it). */
  stale_lock: 'stale_lock',
  /** A record that is not finished whose spec file is gone. */
  record_without_spec: 'record_without_spec',
  /** An attempt with no end while no orchestrator holds the dir. */
  open_attempt: 'open_attempt',
  /** A live process group of such an attempt: nothing will ever wait on it. */
  orphan_process: 'orphan_process',
  /** A record edited by hand while no orchestrator ran (its seal does not hold): the next start judges it. */
  hand_edit: 'hand_edit',
  /** A task worktree no task needs (its record gone, or the task DONE), or a folder in orch's worktree folder git does not know. */
  leaked_worktree: 'leaked_worktree',
  /** A record of an unfinished task names a worktree that is gone (an error when its branch with checkpoints is gone too). */
  missing_worktree: 'missing_worktree',
  /** An agent CLI the config drives: not found, another version than tested, a flag it no longer has, no credentials. */
  agent_cli: 'agent_cli',
  /** An executor the config defines: an ssh host that cannot be reached or lacks what the wrapper needs, Slurm's commands or spool. */
  executor: 'executor',
} as const;
export type DoctorKind = (typeof DOCTOR_KINDS)[keyof typeof DOCTOR_KINDS];

export interface DoctorProblem {
  kind: DoctorKind;
  /** Warnings (a config warning) do not make a dir unhealthy. */
  severity: 'error' | 'warning';
  /** The file or dir concerned. */
  path: string;
  message: string;
  /** What to do about it. */
  action: string;
  /** Whether `--fix` repairs it. */
  fixable: boolean;
  fixed: boolean;
  task?: string;
  /** orphan_process: the group's recorded identity (`path` is the record that names it). */
  process?: ProcessIdentity;
  /** invalid_file: the error code, JSON pointer, line and column. */
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  problems: DoctorProblem[];
  /** No error left unfixed. */
  healthy: boolean;
  /** The live orchestrator holding the dir while we looked, if any (process checks are then skipped). */
  holder?: string;
}

export interface DoctorOptions {
  fix?: boolean;
  clock?: Clock;
  /** Default LOCK_STALE_MS. */
  lockStaleMs?: number;
  /** Default TEMP_MAX_AGE_MS. */
  tempMaxAgeMs?: number;
  /** SIGTERM to SIGKILL for orphaned groups; default DEFAULT_KILL_GRACE_MS (as `orch --resume`). */
  killGraceMs?: number;
}

/** Checks and, with `fix`, repairs. */
export async function doctorProject(paths: StatePaths, options: DoctorOptions = {}): Promise<DoctorReport> {
  const report = await checkProject(paths, options);
  if (options.fix === true) await repairProblems(report.problems, options);
  return { ...report, healthy: isHealthy(report.problems) };
}

export function isHealthy(problems: readonly DoctorProblem[]): boolean {
  return problems.every(p => p.severity !== 'error' || p.fixed);
}

/**
 * Every problem of the state dir. Touches nothing, except what every read of session.json does: a
 * second link of it left by a writer killed mid-create (a dead writer's temp name) is removed first.
 */
export async function checkProject(paths: StatePaths, options: DoctorOptions = {}): Promise<DoctorReport> {
  const clock = options.clock ?? systemClock;
  const problems: DoctorProblem[] = [];
  const session = await readSession(paths).catch(() => undefined); // an unreadable one is an invalid_file
  const verdict = session === undefined ? undefined : judgeHolder(session, clock);
  const held = verdict?.state === HOLDER_STATES.held;
  problems.push(...(await fileProblems(paths, held ? undefined : { epoch: session?.epoch ?? 0, stateDir: paths.stateDir })));

  if (session !== undefined && verdict?.state === HOLDER_STATES.stale) {
    problems.push(problem('dead_session', paths.session, `names ${describeHolder(session)}, which is dead: ${verdict.reason}`, 'run `orch --resume` to take it over and carry its tasks on', false));
  }
  problems.push(...(await tempProblems(paths, clock.now(), options.tempMaxAgeMs ?? TEMP_MAX_AGE_MS)));
  problems.push(...(await lockProblems(paths, clock.now(), options.lockStaleMs ?? LOCK_STALE_MS)));
  problems.push(...(await recordProblems(paths, held)));
  problems.push(...(await agentProblems(paths)));
  problems.push(...(await executorProblems(paths)));
  problems.push(...(await worktreeProblems(paths)));
  return { problems, healthy: isHealthy(problems), ...(held && session !== undefined && { holder: describeHolder(session) }) };
}

/** Task worktrees no task needs, found as specs/isolation.md says (a config that loads; records that load). */
async function worktreeProblems(paths: StatePaths): Promise<DoctorProblem[]> {
  const config = await loadDocument('config', paths.config).catch(() => undefined);
  if (config === undefined) return [];
  const records = (await loadAll('record', paths.records)).items.map(item => item.doc);
  const findings = await checkWorktrees(paths.root, config.doc, records, process.env).catch(() => []);
  return findings.map(f => problem(f.kind === 'leaked' ? 'leaked_worktree' : 'missing_worktree', f.path, f.message, f.action, f.removable, { severity: f.severity, task: f.task, details: { finding: f, root: paths.root, setup: setupOf(config.doc) } }));
}

/** The agent CLIs of a config that loads (a broken one is already an invalid_file). */
async function agentProblems(paths: StatePaths): Promise<DoctorProblem[]> {
  const config = await loadDocument('config', paths.config).catch(() => undefined);
  if (config === undefined) return [];
  return checkAgents(config.doc, paths.root).map(check =>
    problem('agent_cli', paths.config, `${check.pointer}: ${check.message}`, check.action, false, { severity: check.severity, details: { pointer: check.pointer } }),
  );
}

/** The executors of a config that loads: each ssh host asked once, Slurm's commands and shared spool. */
async function executorProblems(paths: StatePaths): Promise<DoctorProblem[]> {
  const config = await loadDocument('config', paths.config).catch(() => undefined);
  if (config?.doc.executors === undefined) return [];
  return (await checkExecutors(config.doc, paths.root)).map(found =>
    problem('executor', paths.config, `${found.pointer}: ${found.message}`, found.action, false, { severity: found.severity, details: { pointer: found.pointer } }),
  );
}

function problem(kind: DoctorKind, path: string, message: string, action: string, fixable: boolean, extra: Partial<DoctorProblem> = {}): DoctorProblem {
  return { kind, severity: 'error', path, message, action, fixable, fixed: false, ...extra };
}

/**
 * How a worker file that does not load is rewritten (`rebuildable`, given only while no live
 * orchestrator holds the dir): worker files are a view of the slots that nothing reads back, so a torn
 * or newer-version one is rebuilt from scratch as a stopped slot, fenced by the last session's epoch.
 * With a live orchestrator, its run rebuilds the file at the slot's next change.
 */
interface WorkerRebuild {
  epoch: number;
  stateDir: string;
}

async function fileProblems(paths: StatePaths, rebuildable: WorkerRebuild | undefined): Promise<DoctorProblem[]> {
  const report = await validateProject(paths);
  return report.files.flatMap(file =>
    file.problems.map(p => {
      const where = p.line !== undefined ? `line ${p.line}, column ${p.column ?? 1}: ` : p.path !== undefined ? `${p.path}: ` : '';
      const text = p.line !== undefined ? p.message.replace(/^.*?:\d+:\d+: /, '') : p.message;
      const worker = p.severity === 'error' && file.kind === 'worker';
      const action = !worker
        ? `fix the file (\`orch validate ${file.file}\` lists every problem)`
        : rebuildable === undefined
          ? 'the running orchestrator rewrites it at the slot\'s next change (worker files are a view)'
          : '`orch doctor --fix` rewrites it (worker files are a view of the slots, rebuilt from scratch)';
      return problem(p.severity === 'error' ? 'invalid_file' : 'config_warning', file.file, `${where}${text}`, action, worker && rebuildable !== undefined, {
        severity: p.severity,
        details: {
          code: p.code,
          file_kind: file.kind,
          ...(p.path !== undefined && { pointer: p.path }),
          ...(p.line !== undefined && { line: p.line, column: p.column ?? 1 }),
          ...(worker && rebuildable !== undefined && { rebuild: rebuildable }),
        },
      });
    }),
  );
}

/** Rewrites a worker file that still does not load as a stopped slot (see WorkerRebuild). */
async function rebuildWorkerFile(path: string, rebuild: WorkerRebuild, clock: Clock): Promise<boolean> {
  return withLock(path, async lock => {
    const broken = await loadIfExists('worker', path).then(() => false, () => true);
    if (!broken) return true; // rebuilt meanwhile (a run started): nothing left to do
    await fs.rm(path, { force: true });
    const at = new Date(clock.now()).toISOString();
    await updateLocked('worker', path, lock, () => ({ name: basename(path, '.json'), status: 'stopped', updated_at: at, last_activity: at }), {
      fence: { epoch: rebuild.epoch },
      stateDir: rebuild.stateDir,
    });
    return true;
  });
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** Temp files judged as the sweeper judges them: a dead writer, or older than `maxAgeMs`. */
async function tempProblems(paths: StatePaths, now: number, maxAgeMs: number): Promise<DoctorProblem[]> {
  const problems: DoctorProblem[] = [];
  for (const dir of tempFileDirs(paths)) {
    const tempDir = join(dir, TEMP_DIR_NAME);
    for (const name of await readdirOrEmpty(tempDir)) {
      const path = join(tempDir, name);
      const stat = await fs.lstat(path).catch(() => undefined);
      if (stat === undefined || !stat.isFile()) continue;
      const writer = parseTempFileName(name);
      const liveness = writer === undefined ? undefined : livenessOf({ ...writer, boot_id: bootId(), host: hostname() });
      const old = now - stat.mtimeMs > maxAgeMs;
      if (liveness !== LIVENESS.dead && !old) continue; // a write in progress
      const who = writer === undefined ? 'an unknown writer' : `pid ${writer.pid} (${liveness === LIVENESS.dead ? 'dead' : 'still alive'})`;
      const age = `${Math.round((now - stat.mtimeMs) / 1000)} s old`;
      problems.push(problem('temp_file', path, `leftover temp file of ${who}, ${age}`, '`orch doctor --fix` removes it', true));
    }
  }
  return problems;
}

/** Dirs where `<file>.lock` dirs appear: beside records, workers, the session and inbox files. */
function lockDirs(paths: StatePaths): string[] {
  return [paths.machine, paths.records, paths.workers, paths.inbox, paths.stateDir];
}

async function lockProblems(paths: StatePaths, now: number, staleMs: number): Promise<DoctorProblem[]> {
  const problems: DoctorProblem[] = [];
  for (const dir of lockDirs(paths)) {
    for (const name of await readdirOrEmpty(dir)) {
      if (!name.endsWith('.lock')) continue;
      const path = join(dir, name);
      // Abandoned only on proof, as the writers judge it (judgeLock): a holder on this host that is
      // alive keeps its lock whatever the clock says; the mtime decides only for a holder out of sight.
      const verdict = judgeLock(path, staleMs, now);
      if (verdict.state !== LOCK_STATES.abandoned) continue;
      problems.push(problem('stale_lock', path, `lock abandoned: ${verdict.reason}`, '`orch doctor --fix` removes it (the next writer would take it over anyway)', true));
    }
  }
  return problems;
}

async function recordProblems(paths: StatePaths, held: boolean): Promise<DoctorProblem[]> {
  const problems: DoctorProblem[] = [];
  for (const { path, doc } of (await loadAll('record', paths.records)).items) {
    const spec = join(paths.stateDir, doc.spec_file);
    if (!TASK_STATE_INFO[doc.state].terminal && (await fs.lstat(spec).catch(() => undefined)) === undefined) {
      problems.push(problem('record_without_spec', path, `task ${doc.id} is ${doc.state} but its spec ${spec} is gone`, `restore the spec, or run \`orch cancel ${doc.id}\` (a running orch cancels it too)`, false, { task: doc.id }));
    }
    if (held) continue; // a live orchestrator judges hand edits and owns its open attempts
    const edit = await handEditProblem(path, doc, paths.archive);
    if (edit !== undefined) problems.push(edit);
    const attempt = openAttempt(doc);
    if (attempt === undefined) continue;
    const what = `attempt ${attempt.n} (${attempt.phase}${attempt.step_id === undefined ? '' : ` ${attempt.step_id}`}) of task ${doc.id}`;
    problems.push(problem('open_attempt', path, `${what} never ended, and no orchestrator runs`, 'run `orch --resume`: it marks the attempt interrupted and carries the task on', false, { task: doc.id }));
    if (attempt.process !== undefined && groupAlive(attempt.process)) {
      const p = attempt.process;
      problems.push(problem('orphan_process', path, `process group ${p.pgid} (leader pid ${p.pid}) of ${what} is still running, with no orchestrator to wait on it`, `\`orch doctor --fix\` stops it (or kill -- -${p.pgid})`, true, { task: doc.id, process: p }));
    }
  }
  if (!held) problems.push(...markedOrphanProblems(paths, problems));
  return problems;
}

/**
 * Commands of a dead run that no record names (it died between their spawn and the write of their
 * identity), found by the session marker in their environment; one problem per process group.
 */
function markedOrphanProblems(paths: StatePaths, known: readonly DoctorProblem[]): DoctorProblem[] {
  const reported = new Set(known.flatMap(p => (p.process === undefined ? [] : [p.process.pgid])));
  return foreignMarkedGroups(paths.stateDir, undefined)
    .filter(m => !reported.has(m.pgid))
    .map(m => {
      const message = `process group ${m.pgid} (pid ${m.pid}) of attempt ${m.attemptId} is still running: run ${m.session} spawned it and is gone, and no record names it`;
      const action = `\`orch doctor --fix\` stops it (or kill -- -${m.pgid}); \`orch --resume\` does too`;
      return problem('orphan_process', `/proc/${m.pid}`, message, action, true, { task: m.attemptId.split('/')[0] ?? '', process: identityOfMarked(m) });
    });
}

/**
 * A record edited by hand while no orchestrator ran, judged as the next start will judge it
 * (Engine.judgeOfflineEdits). A legal decision made by setting the state is not a fault: a warning.
 */
async function handEditProblem(path: string, doc: TaskRecord, archive: string): Promise<DoctorProblem | undefined> {
  const check = checkSeal(doc);
  if (check.kind === 'state_edited') {
    const verdict = judgeEdit(check.original, doc);
    const what = `task ${doc.id}'s record was edited by hand while no orchestrator ran: its state, from ${check.original.state} to ${doc.state}`;
    return verdict.kind === 'decision'
      ? problem('hand_edit', path, `${what}, a person's decision (${verdict.event.type})`, `the next \`orch\` start applies it, as \`orch ${verdict.event.type} ${doc.id}\` would`, false, { task: doc.id, severity: 'warning' })
      : problem('hand_edit', path, `${what}: ${verdict.kind === 'refused' ? verdict.reason : 'nothing changed'}`, `the next \`orch\` start refuses it: the edit is kept as ${doc.id}.rejected-<time>.json and the record restored to ${check.original.state}`, false, { task: doc.id });
  }
  if (check.kind !== 'edited') return undefined;
  if ((await archivedOriginal(archive, doc)) !== undefined) {
    return problem('hand_edit', path, `task ${doc.id}'s record was edited by hand while no orchestrator ran, beyond its state: the task is finished and its record as orch wrote it is in the archive`, `the next \`orch\` start refuses it: the edit is kept as ${doc.id}.rejected-<time>.json and the record restored from the archive`, false, { task: doc.id });
  }
  const next = doc.state === 'NEW' || TASK_STATE_INFO[doc.state].terminal ? 'takes the record as edited' : 'parks the task for a person before anything runs on it';
  return problem('hand_edit', path, `task ${doc.id}'s record was edited by hand while no orchestrator ran, beyond its state; orch keeps no copy to restore it from`, `the next \`orch\` start keeps the edit aside as ${doc.id}.rejected-<time>.json and ${next}; to undo it, put your own copy of the record back first`, false, { task: doc.id });
}

/** Whether anything of the recorded group still runs: the leader itself, or (it gone) its descendants in the group. */
export function groupAlive(identity: ProcessIdentity): boolean {
  if (identity.host !== hostname() || identity.boot_id !== bootId()) return false;
  const leader = livenessOf(identity);
  if (leader === LIVENESS.alive) return true;
  const holder = readProcessStat(identity.pid);
  if (holder !== undefined && holder.state !== 'Z' && holder.start_time !== identity.start_time) return false; // pid reused: the group is gone
  return listGroupMembers(identity.pgid).some(member => member.start_time >= identity.start_time);
}

/** Does the safe repairs, marking each problem repaired as `fixed`. */
export async function repairProblems(problems: DoctorProblem[], options: DoctorOptions = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const temps = problems.filter(p => p.kind === 'temp_file');
  if (temps.length > 0) {
    const dirs = [...new Set(temps.map(p => join(p.path, '..', '..')))];
    const { removed } = await sweepTempFiles(dirs, { clock, maxAgeMs: options.tempMaxAgeMs ?? TEMP_MAX_AGE_MS });
    const gone = new Set(removed);
    for (const p of temps) p.fixed = gone.has(p.path) || (await fs.lstat(p.path).catch(() => undefined)) === undefined;
  }
  for (const p of problems) {
    if (p.fixable) crashPoint('doctor.before-repair');
    switch (p.kind) {
      case 'stale_lock':
        // reapLock removes the holder file first (a plain rmdir fails on it) and only a lock still abandoned.
        try {
          p.fixed = reapLock(p.path, options.lockStaleMs ?? LOCK_STALE_MS, clock.now());
        } catch {
          p.fixed = false; // the disk refused the removal (read-only, permissions): reported as not fixed
        }
        break;
      case 'orphan_process':
        if (p.process !== undefined) {
          const result = await stopProcessGroup(p.process, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
          p.fixed = result !== STOP_RESULT.not_ours && !groupAlive(p.process);
          crashPoint('doctor.after-repair');
        }
        break;
      case 'leaked_worktree': {
        const finding = p.details?.finding as WorktreeFinding | undefined;
        const root = p.details?.root as string | undefined;
        const setup = p.details?.setup as WorktreeSetup | undefined;
        if (p.fixable && finding !== undefined && root !== undefined && setup !== undefined) p.fixed = await removeFoundWorktree(root, setup, finding).catch(() => false);
        break;
      }
      case 'invalid_file': {
        const rebuild = p.details?.rebuild as WorkerRebuild | undefined;
        if (p.fixable && rebuild !== undefined) p.fixed = await rebuildWorkerFile(p.path, rebuild, clock).catch(() => false);
        break;
      }
      case 'missing_worktree':
      case 'temp_file':
      case 'config_warning':
      case 'dead_session':
      case 'record_without_spec':
      case 'open_attempt':
      case 'hand_edit':
      case 'agent_cli':
      case 'executor':
        break;
      default: {
        const never: never = p.kind;
        throw new Error(`unknown problem kind ${String(never)}`);
      }
    }
  }
}
