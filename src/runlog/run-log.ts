// Appends the run log and events.jsonl. Each entry is a single write() on a file opened with O_APPEND:
// on a local filesystem concurrent appenders never interleave inside an entry, so several orch
// processes (the orchestrator, a CLI approving a task) can log to one file and nothing is torn.
// A write the disk cuts short (ENOSPC, a file size limit) is undone or closed: see appendOnce.
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunEvent } from '../generated/types.js';
import { isoTime, systemClock, type Clock } from '../clock.js';
import { errnoCode, OrchError } from '../errors.js';
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

/** Files where a torn line of ours could not be closed: the next append here starts with a newline. */
const unclosed = new Set<string>();

/**
 * Appends `text` (whole lines) to `path` in one write(). It never leaves a partial line of its own:
 *
 * - A write the disk cuts short is undone with ftruncate() back to the size before it, but only when
 *   the file is exactly that size plus our bytes and ends with them: then no other appender has
 *   written since our write. Truncating in any other case could cut another process's entry out, so
 *   then our torn line is closed with a newline instead (one line readers skip).
 * - Where even that newline cannot be written (the disk is still full), this process's next append
 *   to the file starts with one, if the file still does not end in a newline. This is not checked on
 *   every append: the size of a file another process is appending to can be seen mid-write, and
 *   that would add blank lines between whole entries.
 * - What is left: a window of microseconds between the size check and the truncate in which another
 *   process would have to append to the disk that just refused us; no lock would close it without
 *   costing every append.
 *
 * Throws ORCH_WRITE_FAILED (details: file, errno when the system gave one, written and length).
 */
async function appendOnce(path: string, text: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await fs.open(path, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
  } catch (error) {
    throw appendFailed(path, (error as Error).message, { errno: errnoCode(error) }, error);
  }
  try {
    const before = (await handle.stat()).size;
    const close = unclosed.has(path) && before > 0 && !(await endsWithNewline(handle, before));
    const bytes = Buffer.from(close ? `\n${text}` : text, 'utf8');
    let written: number;
    try {
      written = (await handle.write(bytes, 0, bytes.length)).bytesWritten;
    } catch (error) {
      // write() reports an error only when it wrote nothing: there is nothing to undo.
      throw appendFailed(path, (error as Error).message, { errno: errnoCode(error), written: 0, length: bytes.length }, error);
    }
    if (written === bytes.length) {
      unclosed.delete(path);
      return;
    }
    if (written > 0 && !(await undoShortAppend(handle, before, bytes.subarray(0, written)))) unclosed.add(path);
    throw appendFailed(path, `the disk took ${written} of ${bytes.length} bytes (full, or a size limit): the entry was not written`, { written, length: bytes.length });
  } finally {
    await handle.close();
  }
}

async function endsWithNewline(handle: FileHandle, size: number): Promise<boolean> {
  const last = Buffer.alloc(1);
  const { bytesRead } = await handle.read(last, 0, 1, size - 1);
  return bytesRead === 1 && last[0] === 0x0a;
}

/**
 * Takes back the `ours` bytes a short write left at `before`, or closes their line (see appendOnce).
 * False when neither could be done.
 */
async function undoShortAppend(handle: FileHandle, before: number, ours: Buffer): Promise<boolean> {
  try {
    const { size } = await handle.stat();
    if (size === before + ours.length) {
      const found = Buffer.alloc(ours.length);
      const { bytesRead } = await handle.read(found, 0, ours.length, before);
      if (bytesRead === ours.length && found.equals(ours)) {
        await handle.truncate(before);
        return true;
      }
    }
    return (await handle.write('\n')).bytesWritten === 1;
  } catch {
    return false; // the disk refused the newline too
  }
}

function appendFailed(path: string, why: string, details: Record<string, unknown>, cause?: unknown): OrchError {
  return new OrchError('ORCH_WRITE_FAILED', `could not append to ${path}: ${why}`, { details: { file: path, ...details }, cause });
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
