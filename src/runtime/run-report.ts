// What one run did, told when it ends (PRODUCT.md §9, §2): the run log's last entry names the tasks it
// touched and its summary counts its own work, and runs/<run-id>/summary.json says the same for tools.
//
// "Its own": a task is this run's when the run wrote its record (the rev moved from the one it found
// at its start, or the run created it); cost, tokens and attempts are those of the attempts it started
// (their run_id) or followed to their end after a crash (adopted_by). A resume that did nothing touched
// nothing and spent nothing, whatever the state dir holds from the runs before it.
import { rmdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { RunSummaryFile, TaskRecord } from '../generated/types.js';
import type { Clock } from '../clock.js';
import { hasCode } from '../errors.js';
import { isTerminal } from '../machine/states.js';
import { tasksTouchedMessage } from '../runlog/format.js';
import type { RunLog } from '../runlog/run-log.js';
import { TEMP_DIR_NAME, writeFileDurable } from '../store/durable-write.js';
import { validateDocument } from '../store/load.js';
import { assertSafeId, type StatePaths } from '../store/paths.js';
import { CURRENT_VERSION, schemaRef } from '../schema/validators.js';
import { isSummary, type StoredRecord } from './record-summary.js';

export type ExitReason = RunSummaryFile['exit_reason'];

export const EXIT_REASONS = { idle: 'idle', stopped: 'stopped', takenOver: 'taken_over', failed: 'failed' } as const satisfies Record<string, ExitReason>;

/** Why a run ended, with the signal, reason or error in words. */
export interface RunExit {
  reason: ExitReason;
  detail?: string;
}

/** The abort reason of a run whose session another orchestrator took over. */
export const TAKEN_OVER = 'the session was taken over';

/** The file a run leaves beside its attempts' folders. */
export const SUMMARY_FILE_NAME = 'summary.json';

export function summaryFilePath(paths: StatePaths, runId: string): string {
  return join(paths.runs, assertSafeId(runId, 'run id'), SUMMARY_FILE_NAME);
}

/** How a run that returned ended: idle, unless it was stopped (`signal` aborted, or drained by a stop in finish mode). */
export function exitOf(signal: AbortSignal, drainedBy: string | undefined): RunExit {
  if (signal.aborted) {
    const detail = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'stopped');
    return { reason: detail === TAKEN_OVER ? EXIT_REASONS.takenOver : EXIT_REASONS.stopped, detail };
  }
  if (drainedBy !== undefined) return { reason: EXIT_REASONS.stopped, detail: `${drainedBy} (running commands were let finish)` };
  return { reason: EXIT_REASONS.idle };
}

/** How a run that threw ended. */
export function exitOfError(error: unknown): RunExit {
  const detail = error instanceof Error ? error.message : String(error);
  return { reason: hasCode(error, 'ORCH_EPOCH_FENCED') ? EXIT_REASONS.takenOver : EXIT_REASONS.failed, detail };
}

/** Dollars as summed from floats, without their noise (0.030000000000000002). */
function usd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export interface RunReportOptions {
  paths: StatePaths;
  runId: string;
  runLog: RunLog;
  clock: Clock;
  /** Tells a part of the report the disk refused (in the run log while its section is open, or on the terminal). */
  warn: (message: string) => Promise<void>;
}

export class RunReport {
  private readonly options: RunReportOptions;
  private readonly startedMs: number;
  /** The rev of every record at the run's start (undefined until open). */
  private found: Map<string, number> | undefined;
  private previousRunDied = false;

  constructor(options: RunReportOptions) {
    this.options = options;
    this.startedMs = options.clock.now();
  }

  /**
   * Takes note of the records as the run found them, before it writes any, and opens the run's
   * section of the run log, whose header names the unfinished tasks carried over.
   */
  async open(records: readonly Pick<TaskRecord, 'id' | 'rev' | 'state'>[]): Promise<{ previousRunDied: boolean }> {
    this.found = new Map(records.map(record => [record.id, record.rev]));
    const carriedOver = records.filter(record => !isTerminal(record.state)).map(record => record.id).sort();
    const opened = await this.options.runLog.startRun(carriedOver);
    this.previousRunDied = opened.previousRunDied;
    return opened;
  }

  /**
   * Ends the run's report from the records as the run leaves them: summary.json, then, with
   * `closeLog`, the run log's last entry (the tasks touched) and its summary. In that order, so that
   * a summary.json the disk refuses is told inside the section. Never throws: a part the disk refuses
   * is told through `warn`, and the others are still written. Returns summary.json's path, or
   * undefined when it could not be written.
   */
  async close(records: Iterable<StoredRecord>, exit: RunExit, options: { closeLog: boolean }): Promise<string | undefined> {
    const { paths, runId, runLog, clock, warn } = this.options;
    const endedMs = clock.now();
    const summary = this.summarize(records, exit, endedMs);
    const file = summaryFilePath(paths, runId);
    const written = await this.writeSummary(file, summary).then(
      () => file,
      async (error: unknown) => {
        await warn(`could not write ${file}: ${(error as Error).message}`);
        return undefined;
      },
    );
    if (options.closeLog) {
      const ids = summary.tasks.map(task => task.id);
      await runLog
        .entry({ category: 'task', level: 'info', message: tasksTouchedMessage(ids, relative(paths.root, file)), data: { tasks: ids.length } })
        .catch((error: unknown) => warn(`could not log the tasks this run touched: ${(error as Error).message}`));
      // A summary the disk refuses leaves the section open: the next run says this one ended abnormally.
      await runLog
        .endRun({ costUsd: summary.cost.usd, completed: summary.counts.completed, failed: summary.counts.failed, needingReview: summary.counts.needing_review })
        .catch((error: unknown) => warn(`could not close the run log's section: ${(error as Error).message}`));
    }
    return written;
  }

  private async writeSummary(file: string, summary: RunSummaryFile): Promise<void> {
    const doc = validateDocument('summary', file, { $schema: schemaRef('summary', file, this.options.paths.stateDir), ...summary });
    await writeFileDurable(file, `${JSON.stringify(doc, null, 2)}\n`);
    // The writer's temp folder, empty now: a run folder holds the attempts' folders and this file.
    await rmdir(join(dirname(file), TEMP_DIR_NAME)).catch(() => undefined);
  }

  private summarize(records: Iterable<StoredRecord>, exit: RunExit, endedMs: number): RunSummaryFile {
    const { runId } = this.options;
    const found = this.found;
    // Before open() the run has written no record: it touched nothing. A summary is of a record the run
    // read and never wrote (record-summary.ts): nothing of it is this run's.
    const touched = found === undefined ? [] : [...records].filter((record): record is TaskRecord => !isSummary(record) && found.get(record.id) !== record.rev).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const tasks = touched.map(record => {
      const attempts = record.attempts.filter(attempt => attempt.run_id === runId || attempt.adopted_by === runId);
      const lastError = record.state === 'FAILED' || record.state === 'AWAITING_HUMAN' ? record.last_error?.message : undefined;
      return {
        id: record.id,
        state: record.state,
        generation: record.generation,
        cost_usd: usd(attempts.reduce((sum, attempt) => sum + (attempt.cost_usd ?? 0), 0)),
        ...(lastError !== undefined && { last_error: lastError }),
        attempts: attempts.map(attempt => ({
          n: attempt.n,
          phase: attempt.phase,
          ...(attempt.step_id !== undefined && { step_id: attempt.step_id }),
          started_at: attempt.started_at,
          ...(attempt.ended_at !== undefined && { ended_at: attempt.ended_at }),
          ...(attempt.reason !== undefined && { reason: attempt.reason }),
          ...(attempt.exit_code !== undefined && { exit_code: attempt.exit_code }),
          ...(attempt.outcome !== undefined && { outcome: attempt.outcome }),
          ...(attempt.cost_usd !== undefined && { cost_usd: attempt.cost_usd }),
          ...(attempt.tokens !== undefined && { tokens: attempt.tokens }),
          artifacts_dir: attempt.artifacts_dir,
        })),
      };
    });
    const inState = (state: TaskRecord['state']): number => touched.filter(record => record.state === state).length;
    const attempts = tasks.flatMap(task => task.attempts);
    return {
      version: CURRENT_VERSION.summary,
      rev: 1,
      run_id: runId,
      started_at: new Date(this.startedMs).toISOString(),
      ended_at: new Date(endedMs).toISOString(),
      duration_s: Math.max(0, endedMs - this.startedMs) / 1000,
      exit_reason: exit.reason,
      ...(exit.detail !== undefined && { exit_detail: exit.detail }),
      previous_run_died: this.previousRunDied,
      counts: {
        touched: touched.length,
        completed: inState('DONE'),
        failed: inState('FAILED'),
        needing_review: inState('AWAITING_HUMAN'),
        cancelled: inState('CANCELLED'),
        attempts: attempts.length,
      },
      cost: {
        usd: usd(attempts.reduce((sum, attempt) => sum + (attempt.cost_usd ?? 0), 0)),
        tokens: attempts.reduce((sum, attempt) => sum + (attempt.tokens ?? 0), 0),
      },
      tasks,
    };
  }
}
