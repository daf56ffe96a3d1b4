// Appends the run log and events.jsonl. Each entry is a single write() on a file opened with O_APPEND:
// on a local filesystem concurrent appenders never interleave inside an entry, so several orch
// processes (the orchestrator, a CLI approving a task) can log to one file and nothing is torn.
// A write the disk cuts short (ENOSPC, a file size limit) is undone or closed: see appendOnce.
// Appends are fenced like record writes (PRODUCT.md §2, §7): an orchestrator that was taken over while
// stalled writes no line after it wakes, so the logs never tell an old view after the new one's.
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunEvent } from '../generated/types.js';
import { isoTime, systemClock, type Clock } from '../clock.js';
import { errnoCode, hasCode, OrchError } from '../errors.js';
import { assertSessionEpoch, type Fence } from '../store/fenced-update.js';
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
function appendOnce(path: string, text: string, opened?: FileHandle, beforeWrite?: () => Promise<void>): Promise<Appended> {
  // One append at a time per file in this process: a short write can then be taken back (the file
  // is exactly as we left it), where two entries in flight at once would leave it a closed torn line.
  return inTurn(path, () => appendNow(path, text, opened, beforeWrite));
}

/** Where an append landed: the file's size before it, and the bytes written. */
interface Appended {
  before: number;
  bytes: Buffer;
}

/** The file operation in progress per file (see appendOnce). */
const appending = new Map<string, Promise<unknown>>();

/** Runs `work` once every earlier operation on `path` by this process has ended. */
function inTurn<T>(path: string, work: () => Promise<T>): Promise<T> {
  const previous = appending.get(path) ?? Promise.resolve();
  const mine = previous.then(work, work);
  appending.set(path, mine);
  void mine
    .finally(() => {
      if (appending.get(path) === mine) appending.delete(path);
    })
    .catch(() => undefined);
  return mine;
}

/**
 * Takes back an append that landed whole (the markdown entry of an event whose events.jsonl line
 * could not be written), if nothing was appended after it; false when it had to stay.
 */
function takeBack(path: string, appended: Appended): Promise<boolean> {
  return inTurn(path, async () => {
    const handle = await fs.open(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      if (size !== appended.before + appended.bytes.length) return false;
      const found = Buffer.alloc(appended.bytes.length);
      const { bytesRead } = await handle.read(found, 0, found.length, appended.before);
      if (bytesRead !== found.length || !found.equals(appended.bytes)) return false;
      await handle.truncate(appended.before);
      return true;
    } finally {
      await handle.close();
    }
  });
}

/** Opens `path` for appending; failures as ORCH_WRITE_FAILED. */
async function openForAppend(path: string): Promise<FileHandle> {
  try {
    return await fs.open(path, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
  } catch (error) {
    throw appendFailed(path, (error as Error).message, { errno: errnoCode(error) }, error);
  }
}

/**
 * `opened`: a handle of `path` the caller opened (and closes); else it is opened and closed here.
 * `beforeWrite`: the last check before the bytes go out (the fence); it throws to refuse the append.
 */
async function appendNow(path: string, text: string, opened?: FileHandle, beforeWrite?: () => Promise<void>): Promise<Appended> {
  const handle = opened ?? (await openForAppend(path));
  try {
    const before = (await handle.stat()).size;
    await beforeWrite?.();
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
      return { before, bytes };
    }
    if (written > 0 && !(await undoShortAppend(handle, before, bytes.subarray(0, written)))) unclosed.add(path);
    throw appendFailed(path, `the disk took ${written} of ${bytes.length} bytes (full, or a size limit): the entry was not written`, { written, length: bytes.length });
  } finally {
    if (opened === undefined) await handle.close();
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

/**
 * Most entries in one batch: more are rare (one per worker, the pass, the inbox), and the torture's
 * oracle allows a run that died this many markdown entries without their events.jsonl twin.
 */
const MAX_BATCH_ENTRIES = 16;

/** How much of the log's end is read to find the last run section. */
const TAIL_BYTES = 1024 * 1024;

export interface RunLogOptions {
  runLogPath: string;
  eventsPath: string;
  runId: string;
  clock?: Clock;
  /** Called with every entry once it is written (the CLI echoes them to the terminal). */
  onEntry?: (event: RunEvent) => void;
  /**
   * The writing session's fence: every append is refused (ORCH_EPOCH_FENCED, nothing written or
   * echoed) once session.json names a newer epoch. Without one (tests, tools) appends are unfenced.
   */
  fence?: Fence;
}

export class RunLog {
  readonly runLogPath: string;
  readonly eventsPath: string;
  readonly runId: string;
  private readonly clock: Clock;
  private readonly startedMs: number;
  private readonly onEntry: ((event: RunEvent) => void) | undefined;
  private readonly fence: Fence | undefined;
  /** The refusal once fenced: epochs only rise, so every later append is refused without a look. */
  private fencedBy: OrchError | undefined;
  /** Entries waiting for the next batch (see entry). */
  private readonly queued: { event: RunEvent; resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** The batches being written (undefined: none): entries asked for meanwhile wait for the next. */
  private flushing: Promise<void> | undefined;

  constructor(options: RunLogOptions) {
    this.onEntry = options.onEntry;
    this.fence = options.fence;
    this.runLogPath = options.runLogPath;
    this.eventsPath = options.eventsPath;
    this.runId = options.runId;
    this.clock = options.clock ?? systemClock;
    this.startedMs = this.clock.now();
  }

  /**
   * Opens this run's section. A previous section with no summary belongs to a run that died: the
   * new section says so first, and a torn last line is closed so it cannot swallow our header.
   * `carriedOver`: the unfinished tasks found at the start (the header's Tasks line).
   */
  async startRun(carriedOver: string[]): Promise<{ previousRunDied: boolean }> {
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
    await appendOnce(this.runLogPath, prefix + formatRunHeader({ startedAt: isoTime(this.clock), carriedOver, notes }), undefined, this.checkFence);
    if (!previous.closed) await this.entry({ category: 'error', level: 'warning', message: `Previous run ${previous.started ?? ''} ended abnormally; resuming` });
    return { previousRunDied: !previous.closed };
  }

  /**
   * Appends one entry to both logs; resolves once it is written (then onEntry sees it), rejects when it
   * could not be. Entries asked for while a batch is being written go out together in the next one, one
   * write() per file (group commit, as record writes have it): 8 workers ending phases at once cost 2
   * appends, not 16. The entries of one batch land or fail together.
   */
  async entry(entry: LogEntry): Promise<RunEvent> {
    const event: RunEvent = { version: 1, at: isoTime(this.clock), run_id: this.runId, ...entry };
    await new Promise<void>((resolve, reject) => {
      this.queued.push({ event, resolve, reject });
      this.flushing ??= this.flush();
    });
    this.onEntry?.(event);
    return event;
  }

  /** Writes the queued entries, a batch at a time, until none is left. */
  private async flush(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0, MAX_BATCH_ENTRIES);
        try {
          // One batch at a time per log (both appends), so a batch can be taken back from the markdown whole.
          await inTurn(`${this.runLogPath}\0entry`, () => this.append(batch.map(queued => queued.event)));
        } catch (error) {
          for (const queued of batch) queued.reject(error);
          continue;
        }
        for (const queued of batch) queued.resolve();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async append(events: readonly RunEvent[]): Promise<void> {
    // The two logs tell the same story. events.jsonl is opened first, so running out of descriptors
    // writes neither; a batch whose events.jsonl lines the disk then refuses is taken back from the
    // markdown, where nothing was appended after it.
    await this.checkFence(); // refused before a file is opened
    const eventsFile = await openForAppend(this.eventsPath);
    try {
      crashPoint('log.before-append');
      const markdown = await appendOnce(this.runLogPath, events.map(formatEntry).join(''), undefined, this.checkFence);
      crashPoint('log.between-appends');
      try {
        // Checked again: a takeover while the markdown lines went out takes them back.
        await appendOnce(this.eventsPath, events.map(event => `${JSON.stringify(event)}\n`).join(''), eventsFile, this.checkFence);
      } catch (error) {
        await takeBack(this.runLogPath, markdown).catch(() => false);
        throw error;
      }
      crashPoint('log.after-append');
    } finally {
      await eventsFile.close();
    }
  }

  /**
   * Throws ORCH_EPOCH_FENCED when another orchestrator took over. Checked just before each write()
   * (and once before an entry starts); a process stopped between the check and its write()
   * (microseconds) is not covered.
   */
  private readonly checkFence = async (): Promise<void> => {
    if (this.fencedBy !== undefined) throw this.fencedBy;
    if (this.fence === undefined) return;
    try {
      await assertSessionEpoch(this.fence, this.eventsPath);
    } catch (error) {
      if (hasCode(error, 'ORCH_EPOCH_FENCED')) this.fencedBy = error;
      throw error;
    }
  };

  async endRun(summary: Omit<RunSummary, 'endedAt' | 'durationS'>): Promise<void> {
    // The entries still waiting for their batch go first: none may land below the summary.
    while (this.flushing !== undefined) await this.flushing;
    const endedMs = this.clock.now();
    await appendOnce(this.runLogPath, formatRunSummary({ ...summary, endedAt: new Date(endedMs).toISOString(), durationS: (endedMs - this.startedMs) / 1000 }), undefined, this.checkFence);
  }
}
