// One orchestrator run over a state dir: take the session, recover what a dead run left behind, open
// the run log section, run the engine until idle (or, in watch mode, until stopped), close the
// section with its summary, release the session.
import { relative } from 'node:path';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { loadConfig, versionWarnings } from '../config/load-config.js';
import { configStamp } from './config-reload.js';
import type { OrchConfig, RunEvent } from '../generated/types.js';
import { isOrchError } from '../errors.js';
import { openAttempt } from '../machine/record.js';
import { RunLog } from '../runlog/run-log.js';
import { STOP_RESULT, stopForeignMarked, stopProcessGroup } from '../runner/kill-group.js';
import { DEFAULT_KILL_GRACE_MS } from '../runner/run-command.js';
import { layoutAt, statePaths, type StatePaths } from '../store/paths.js';
import { assertSessionEpoch } from '../store/fenced-update.js';
import { acquireSession, SESSION_LEASE_MS, type Session } from '../store/session.js';
import { sweepTempFiles, tempFileDirs } from '../store/temp-sweep.js';
import { waitForWriters } from '../store/owned-file.js';
import { crashPoint } from '../testing/crash-points.js';
import { startHeartbeat } from './heartbeat.js';
import { exitOf, exitOfError, RunReport, TAKEN_OVER } from './run-report.js';
import { Engine, type EngineSummary } from './engine.js';
import { isSummary, type StoredRecord } from './record-summary.js';
import { describeIsolation } from '../worktree/task-worktree.js';
import { sweepWorktrees } from '../worktree/worktree-check.js';
import { describeMergeTargets } from '../worktree/merge-queue.js';

export interface RunOptions {
  clock?: Clock;
  random?: () => number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  leaseMs?: number;
  /** Watch mode: keep running when idle, until `signal` aborts. */
  stayAlive?: boolean;
  /** A watcher hints at changes (engine.hint): passes look only at hinted files between resyncs. */
  watched?: boolean;
  /** Every run-log entry, as it is written. */
  onLogEntry?: (event: RunEvent) => void;
}

export interface RunResult extends EngineSummary {
  runId: string;
  runLogPath: string;
  previousRunDied: boolean;
  interrupted: string[];
  /** runs/<run-id>/summary.json: what this run did; undefined when the disk refused it. */
  summaryFile: string | undefined;
}

/** A started orchestrator: the parts a watcher or a CLI needs while it runs. */
export interface Orchestrator {
  paths: StatePaths;
  config: OrchConfig;
  session: Session;
  engine: Engine;
  runLog: RunLog;
  /** Resolves when the run has ended (idle, or stopped) and its section is closed. */
  done: Promise<RunResult>;
  /**
   * Stops taking work and ends the run: running commands are stopped (`stop`, the default) or
   * allowed to finish (`finish`, config on_shutdown).
   */
  stop(reason?: string, mode?: 'stop' | 'finish'): void;
}

/**
 * Attempts still open in the records belong to a run that is gone (we hold the session now). One on a
 * host or in a Slurm job runs on there, its end written to its spool: this run follows it. The others
 * are stopped (their process groups, after checking they are the same processes) and marked interrupted.
 */
async function recoverOpenAttempts(engine: Engine, records: readonly StoredRecord[], report: (level: 'warning', message: string) => Promise<void>): Promise<string[]> {
  const interrupted: string[] = [];
  for (const doc of records) {
    if (isSummary(doc)) continue; // a finished task's, kept only when no attempt is open (record-summary.ts)
    const attempt = openAttempt(doc);
    if (attempt === undefined) continue;
    if (engine.followLeftover(doc, attempt)) continue;
    crashPoint('resume.before-stop');
    if (attempt.process !== undefined) await stopProcessGroup(attempt.process, DEFAULT_KILL_GRACE_MS);
    // On a host or cluster the config no longer names (else it was followed): it cannot be reached.
    if (attempt.remote !== undefined) {
      const { executor, host, spool } = attempt.remote;
      await report('warning', `Attempt ${attempt.n} of task ${doc.id} ran on ${host} (spool ${spool}), but the config has no executors.${executor} now: it may still run there; the attempt is given up as interrupted`);
    }
    crashPoint('resume.before-interrupt');
    engine.adopt(doc);
    await engine.apply(doc.id, { type: 'attempt_finished', n: attempt.n, reason: 'interrupted', retryable: true, exit_code: null, signal: null, error: 'the orchestrator running it stopped' });
    crashPoint('resume.after-interrupt');
    interrupted.push(doc.id);
  }
  return interrupted;
}

/**
 * Commands of a dead run that no record names (it died between their spawn and the write of their
 * identity), found by their session marker and stopped. A /proc that cannot be read (EMFILE) does not
 * stop the run: it is said, and `orch doctor` can look again later.
 */
async function stopUnnamedOrphans(stateDir: string, runId: string, runLog: RunLog, report: (level: 'warning', message: string) => Promise<void>): Promise<void> {
  let stopped;
  try {
    stopped = await stopForeignMarked(stateDir, runId, DEFAULT_KILL_GRACE_MS);
  } catch (error) {
    if (!isOrchError(error)) throw error;
    await report('warning', `Could not look for commands left running by a dead run: ${error.message}; \`orch doctor\` looks again`);
    return;
  }
  for (const orphan of stopped) {
    if (orphan.result !== STOP_RESULT.stopped) continue;
    const message = `Stopped process group ${orphan.pgid} (attempt ${orphan.attemptId}), left running by run ${orphan.session}`;
    await runLog.entry({ category: 'task', level: 'warning', message }).catch(() => undefined);
  }
}

/**
 * How long after the start's look for unnamed orphans it looks again. A command caught between its
 * fork and its exec by that look is still a copy of the dead orchestrator, not yet marked (specs/
 * commands.md, "The session marker"); a moment later it runs, marked. So the run looks again this long
 * after the start, and a last time at its end.
 */
export const LATE_ORPHAN_LOOK_MS = 2000;

/** `look` once `delayMs` from now, and again at atEnd(); cancel() drops it if not begun, else waits for it. */
function laterLooks(look: () => Promise<void>, delayMs: number): { atEnd(): Promise<void>; cancel(): Promise<void> } {
  let timed: Promise<void> | undefined;
  const timer = setTimeout(() => (timed = look().catch(() => undefined)), delayMs);
  timer.unref(); // the end looks anyway: never the reason a process stays alive
  return {
    atEnd: async () => {
      clearTimeout(timer);
      await timed;
      await look().catch(() => undefined);
    },
    cancel: async () => {
      clearTimeout(timer);
      await timed; // a look under way may still write to the run log: it ends before the session goes
    },
  };
}

/** The state paths and config of the project at `root`, and what the run says of the config once at its start. */
export async function openProject(root: string): Promise<{ paths: StatePaths; config: OrchConfig; configStamp: string; configNotices: string[] }> {
  const layout = layoutAt(root) ?? '.isollm';
  const configPath = statePaths(root, layout).config;
  const stamp = await configStamp(configPath); // taken before the read: a change after it is reloaded
  const loaded = await loadConfig(configPath, root);
  const configNotices = versionWarnings(loaded).map(w => `${relative(root, configPath)} ${w.path}: ${w.message}`);
  return { paths: statePaths(root, layout, loaded.config.run_log), config: loaded.config, configStamp: stamp, configNotices };
}

/** Takes the session and starts the engine; `done` settles when the run ends. */
export async function startOrchestrator(root: string, options: RunOptions = {}): Promise<Orchestrator> {
  const clock = options.clock ?? systemClock;
  const project = await openProject(root);
  const { paths, config } = project;
  const leaseMs = options.leaseMs ?? SESSION_LEASE_MS;
  const session = await acquireSession(paths, { clock, leaseMs });
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
  const runLog = new RunLog({
    runLogPath: paths.runLog,
    eventsPath: paths.events,
    runId: session.runId,
    clock,
    fence: session.fence(), // a stalled run taken over appends nothing after it wakes
    ...(options.onLogEntry !== undefined && { onEntry: options.onLogEntry }),
  });
  // What the run must tell even when the disk refuses the run log: the entry is echoed all the same.
  const report = async (level: 'warning' | 'info', message: string): Promise<void> => {
    await runLog.entry({ category: 'error', level, message }).catch(() => {
      options.onLogEntry?.({ version: 1, at: new Date(clock.now()).toISOString(), run_id: session.runId, category: 'error', level, message });
    });
  };
  const heartbeat = startHeartbeat({ session, intervalMs: Math.max(1000, leaseMs / 3), onTakeover: () => controller.abort(TAKEN_OVER), report });
  const engine = new Engine({
    paths,
    config,
    fence: session.fence(),
    runId: session.runId,
    runLog,
    clock,
    configStamp: project.configStamp,
    watched: options.watched === true,
    ...(options.random !== undefined && { random: options.random }),
    ...(options.env !== undefined && { env: options.env }),
  });
  const runReport = new RunReport({ paths, runId: session.runId, runLog, clock, warn: message => report('warning', message) });
  // The session says stopping from the moment the run takes no more work (and never goes back).
  const markStopping = (): Promise<unknown> => session.heartbeat('stopping').catch(() => undefined);
  controller.signal.addEventListener('abort', () => void markStopping(), { once: true });
  let drainedBy: string | undefined;
  const run = async (): Promise<RunResult> => {
    let lateOrphans: ReturnType<typeof laterLooks> | undefined;
    try {
      // The engine writes records without a lock dir (owned-file.ts): a CLI decision that checked the
      // session before this run took it lands first, under its lock.
      for (const { file, error } of await waitForWriters(paths.records)) {
        await report('warning', `Could not wait for the writer holding the lock on ${relative(paths.root, file)}: ${error}; a write of it landing later is judged as a hand edit`);
      }
      await sweepTempFiles(tempFileDirs(paths), { clock });
      const records = await engine.loadRecords();
      const { previousRunDied } = await runReport.open(records);
      for (const notice of project.configNotices) await report('warning', notice);
      for (const line of [...(await describeIsolation(config, paths.root, options.env ?? process.env, paths.machine)), ...(await describeMergeTargets(config, paths.root))]) {
        await runLog.entry({ category: 'task', level: 'info', message: line }).catch(() => undefined);
      }
      await stopUnnamedOrphans(paths.stateDir, session.runId, runLog, report);
      lateOrphans = laterLooks(async () => {
        // Only while this run holds the state dir: once taken over, the commands of the run that holds
        // it now carry another session's marker too, and are not this run's to stop.
        if (controller.signal.reason === TAKEN_OVER) return;
        await assertSessionEpoch(session.fence(), session.path); // throws when a newer session holds it
        await stopUnnamedOrphans(paths.stateDir, session.runId, runLog, report);
      }, LATE_ORPHAN_LOOK_MS);
      // Before anything writes a record: a write would make an unjudged hand edit orch's own.
      const interrupted = await recoverOpenAttempts(engine, await engine.judgeOfflineEdits(records), report);
      // Every record loaded (the engine keeps only what it works on): a finished task's is what says its worktree may go.
      for (const line of await sweepWorktrees(paths.root, config, records, options.env ?? process.env, clock.now())) {
        await runLog.entry({ category: 'task', level: 'info', message: line }).catch(() => undefined);
      }
      await heartbeat.beat();
      const summary = await engine.runUntilIdle(controller.signal, { stayAlive: options.stayAlive === true });
      await lateOrphans.atEnd();
      await markStopping();
      const summaryFile = await runReport.close(engine.records.values(), exitOf(controller.signal, drainedBy), { closeLog: true });
      return { ...summary, runId: session.runId, runLogPath: paths.runLog, previousRunDied, interrupted, summaryFile };
    } catch (error) {
      // Its section stays open (the next run says this one ended abnormally); summary.json still tells.
      await runReport.close(engine.records.values(), exitOfError(error), { closeLog: false });
      throw error;
    } finally {
      await lateOrphans?.cancel();
      heartbeat.stop();
      await engine.closeExecutors().catch((error: unknown) => report('warning', `could not close the executors' connections: ${(error as Error).message}`));
      // A session that cannot be marked stopped (the disk still refuses) is left to the next start,
      // which finds its process gone: the run's own ending is not lost for it.
      await session.release().catch((error: unknown) => report('warning', `could not mark ${session.path} stopped: ${(error as Error).message}`));
    }
  };
  const stop = (reason?: string, mode: 'stop' | 'finish' = 'stop'): void => {
    if (mode === 'finish') {
      drainedBy ??= reason ?? 'stopped';
      engine.drain();
      void markStopping();
    } else controller.abort(reason ?? 'stopped');
  };
  return { paths, config, session, engine, runLog, done: run(), stop };
}

/** Runs the orchestrator over `root` until nothing is left to do now (the library's runUntilIdle). */
export async function runOnce(root: string, options: RunOptions = {}): Promise<RunResult> {
  const orchestrator = await startOrchestrator(root, { ...options, stayAlive: false });
  return orchestrator.done;
}
