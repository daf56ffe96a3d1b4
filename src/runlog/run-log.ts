// Appends the run log and events.jsonl. Each entry is a single write() on a file opened with O_APPEND:
// on a local filesystem concurrent appenders never interleave inside an entry, so several orch
// processes (the orchestrator, a CLI approving a task) can log to one file and nothing is torn.
import { constants as fsc, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { RunEvent } from '../generated/types.js';
import { isoTime, systemClock, type Clock } from '../clock.js';
import { errnoCode } from '../errors.js';
import { crashPoint } from '../testing/crash-points.js';
import { formatEntry, formatRunHeader, formatRunSummary, lastRunStatus, type LogCategory, type LogLevel, type RunSummary } from './format.js';

export interface LogEntry {
  category: LogCategory;
  level: LogLevel;
  message: string;
  task_id?: string;
  record_rev?: number;
  details?: string[];
  data?: Record<string, unknown>;
}

async function appendOnce(path: string, text: string): Promise<void> {
  const handle = await fs.open(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
  try {
    const bytes = Buffer.from(text, 'utf8');
    const { bytesWritten } = await handle.write(bytes, 0, bytes.length);
    if (bytesWritten !== bytes.length) throw Object.assign(new Error(`short append to ${path}`), { code: 'EIO' });
  } finally {
    await handle.close();
  }
}

async function readTail(path: string, bytes: number): Promise<string> {
  try {
    const handle = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return '';
    throw error;
  }
}

/** How much of the log's end is read to find the last run section. */
const TAIL_BYTES = 1024 * 1024;

export interface RunLogOptions {
  runLogPath: string;
  eventsPath: string;
  runId: string;
  clock?: Clock;
  /** Called with every entry once it is written (the CLI echoes them to the terminal). */
  onEntry?: (event: RunEvent) => void;
}

export class RunLog {
  readonly runLogPath: string;
  readonly eventsPath: string;
  readonly runId: string;
  private readonly clock: Clock;
  private readonly startedMs: number;
  private readonly onEntry: ((event: RunEvent) => void) | undefined;

  constructor(options: RunLogOptions) {
    this.onEntry = options.onEntry;
    this.runLogPath = options.runLogPath;
    this.eventsPath = options.eventsPath;
    this.runId = options.runId;
    this.clock = options.clock ?? systemClock;
    this.startedMs = this.clock.now();
  }

  /**
   * Opens this run's section. A previous section with no summary belongs to a run that died: the
   * new section says so first, and a torn last line is closed so it cannot swallow our header.
   */
  async startRun(tasks: string[]): Promise<{ previousRunDied: boolean }> {
    await fs.mkdir(dirname(this.runLogPath), { recursive: true });
    const tail = await readTail(this.runLogPath, TAIL_BYTES);
    const previous = lastRunStatus(tail);
    const notes: string[] = [];
    let prefix = '';
    if (tail !== '' && !tail.endsWith('\n')) {
      prefix = '\n';
      notes.push('The log ended in a torn line (the writer was killed mid-append); it was closed above.');
    }
    if (!previous.closed) {
      notes.unshift(`The previous run (${previous.started ?? 'unknown'}) ended abnormally: it has no summary. This run carries on from its state.`);
    }
    await appendOnce(this.runLogPath, prefix + formatRunHeader({ startedAt: isoTime(this.clock), tasks, notes }));
    if (!previous.closed) await this.entry({ category: 'error', level: 'warning', message: `Previous run ${previous.started ?? ''} ended abnormally; resuming` });
    return { previousRunDied: !previous.closed };
  }

  async entry(entry: LogEntry): Promise<RunEvent> {
    const event: RunEvent = { version: 1, at: isoTime(this.clock), run_id: this.runId, ...entry };
    crashPoint('log.before-append');
    await appendOnce(this.runLogPath, formatEntry(event));
    crashPoint('log.between-appends');
    await appendOnce(this.eventsPath, `${JSON.stringify(event)}\n`);
    crashPoint('log.after-append');
    this.onEntry?.(event);
    return event;
  }

  async endRun(summary: Omit<RunSummary, 'endedAt' | 'durationS'>): Promise<void> {
    const endedMs = this.clock.now();
    await appendOnce(this.runLogPath, formatRunSummary({ ...summary, endedAt: new Date(endedMs).toISOString(), durationS: (endedMs - this.startedMs) / 1000 }));
  }
}
