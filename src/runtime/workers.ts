// Worker slots (PRODUCT.md §4): `workers` of them, each running one command at a time, each a file in
// state/workers/ that says what it does (idle, busy, stopped; error when the orchestrator lost its
// command), since when the run opened it (started_at), and its last failure (last_error).
//
// The files are a view for people and tools, not state the engine reads back: a slot's status
// changes are written in order, one after another, but the engine does not wait for them before it
// starts a command (that wait cost a durable write per attempt on the way to every spawn). They are
// written WORKER_WRITE_DELAY_MS after a change, the changes of that time in one write: a slot's two
// fsyncs then no longer compete with the record writes of a launch for the disk, and a slot that goes
// busy and idle again within that time (a quick command) costs one write instead of two.
import { promises as fs } from 'node:fs';
import type { AttemptReason, OrchConfig, WorkerRecord } from '../generated/types.js';
import { isoTime, type Clock } from '../clock.js';
import type { TaskEvent } from '../machine/events.js';
import { errorText } from '../machine/failures.js';
import { firstLine } from '../machine/messages.js';
import { isOrchError, type OrchError, type OrchErrorCode } from '../errors.js';
import { updateLocked, type Draft, type Fence } from '../store/fenced-update.js';
import { ownedByTheSession } from '../store/owned-file.js';
import { loadIfExists } from '../store/load.js';
import { workerPath, type StatePaths } from '../store/paths.js';

type WorkerStatus = WorkerRecord['status'];
type SlotChange = { status: WorkerStatus; fields: Partial<WorkerRecord> };

/** How long after a change a slot's file is written (the changes of that time in one write). */
export const WORKER_WRITE_DELAY_MS = 100;

/** Most characters of a slot's last_error: the record keeps the whole error. */
export const LAST_ERROR_MAX_CHARS = 500;

/**
 * Attempt ends that are the slot's last_error. A stop (cancelled, interrupted) is not an error of the
 * command; a success is one only when the command's own result says it failed.
 */
const ERROR_REASONS: { [R in AttemptReason]: boolean } = {
  succeeded: false,
  failed: true,
  timed_out: true,
  stalled: true,
  cancelled: false,
  interrupted: false,
  rate_limited: true,
};

/** Load failures that say the file at `path` is wrong, not the system (a read fault) or the writer (fenced, a full disk). */
const BROKEN_FILE_CODES: ReadonlySet<OrchErrorCode> = new Set(['ORCH_INVALID_JSON', 'ORCH_INVALID_UTF8', 'ORCH_SCHEMA_INVALID', 'ORCH_VERSION_NEWER', 'ORCH_VERSION_UNKNOWN', 'ORCH_NOT_REGULAR_FILE', 'ORCH_FILE_TOO_LARGE', 'ORCH_UNSAFE_ID']);

/** The error, when it says the slot file at `path` itself is broken (and so may be rebuilt). */
export function brokenFileError(error: unknown, path: string): OrchError | undefined {
  if (!isOrchError(error) || !BROKEN_FILE_CODES.has(error.code)) return undefined;
  return error.details.file === path ? error : undefined;
}

export class WorkerPool {
  private readonly paths: StatePaths;
  private readonly config: OrchConfig;
  private readonly fence: Fence;
  private readonly clock: Clock;
  private readonly free: string[] = [];
  /** The last write queued per slot: each waits for the one before it. */
  private readonly writes = new Map<string, Promise<void>>();
  /** Changes not yet handed to a write, per slot (the latest status, the fields merged). */
  private readonly pending = new Map<string, SlotChange>();
  private timer: NodeJS.Timeout | undefined;
  /** The first write that failed since the last report (a full disk): see takeWriteError. */
  private writeError: unknown;
  private readonly rebuilt: string[] = [];
  readonly names: string[];

  constructor(paths: StatePaths, config: OrchConfig, fence: Fence, clock: Clock) {
    this.paths = paths;
    this.config = config;
    this.fence = fence;
    this.clock = clock;
    this.names = Array.from({ length: config.workers ?? 1 }, (_, i) => `w${i + 1}`);
  }

  launcherOf(name: string): string[] {
    return this.config.launchers?.[this.names.indexOf(name)] ?? [];
  }

  async open(): Promise<void> {
    this.free.length = 0;
    const startedAt = isoTime(this.clock);
    for (const name of this.names) {
      // Slot files are a view: one the disk refuses (full, read-only) is reported, never fatal.
      await this.write(name, 'idle', { started_at: startedAt }).catch((error: unknown) => void (this.writeError ??= error));
      this.free.push(name);
    }
  }

  /** A free slot: `preferred` when it is free (a followed attempt's own), else the first. */
  take(preferred?: string): string | undefined {
    const at = preferred === undefined ? -1 : this.free.indexOf(preferred);
    return at >= 0 ? this.free.splice(at, 1)[0] : this.free.shift();
  }

  hasFree(): boolean {
    return this.free.length > 0;
  }

  busy(name: string, taskId: string, phase: string): void {
    this.queue(name, 'busy', { task_id: taskId, phase });
  }

  /**
   * The attempt of `taskId` that ran in `name` ended: a failure is the slot's last_error (a person
   * looking at the slot sees why its last command ended, until another fails).
   */
  ended(name: string, taskId: string, phase: string, event: TaskEvent): void {
    if (event.type !== 'attempt_finished' || (!ERROR_REASONS[event.reason] && event.result?.outcome !== 'failed')) return;
    const lastError = `${taskId} ${phase} attempt ${event.n}: ${firstLine(errorText(event))}`.slice(0, LAST_ERROR_MAX_CHARS);
    this.queue(name, 'busy', { task_id: taskId, phase, last_error: lastError, last_error_at: isoTime(this.clock) });
  }

  failed(name: string, error: unknown): void {
    this.queue(name, 'error', { last_error: (error as Error)?.message ?? String(error), last_error_at: isoTime(this.clock) });
  }

  release(name: string): void {
    this.queue(name, 'idle', {});
    this.free.push(name);
  }

  /** Writes what is pending, waits for every queued write, then marks every slot stopped. */
  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.writes.values());
    for (const name of this.names) await this.write(name, 'stopped', {}).catch((error: unknown) => void (this.writeError ??= error));
  }

  /** The slot files rebuilt since the last call (then forgotten), each with why it did not load. */
  takeRebuilt(): string[] {
    return this.rebuilt.splice(0);
  }

  /** A write of a slot file that failed since the last call (then forgotten), if any. */
  takeWriteError(): unknown {
    const error = this.writeError;
    this.writeError = undefined;
    return error;
  }

  private queue(name: string, status: WorkerStatus, fields: Partial<WorkerRecord>): void {
    // The task and phase belong to the latest status only (idle has none); an error is kept.
    const { task_id: _t, phase: _p, ...kept } = this.pending.get(name)?.fields ?? {};
    this.pending.set(name, { status, fields: { ...kept, ...fields } });
    // Unref'd: a pending view of a slot never keeps the process alive; close() writes it.
    this.timer ??= setTimeout(() => this.flush(), WORKER_WRITE_DELAY_MS).unref();
  }

  /** Hands every pending change to its slot's chain of writes. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [name, change] of this.pending) {
      const previous = this.writes.get(name) ?? Promise.resolve();
      const next = previous.then(() => this.write(name, change.status, change.fields)).catch((error: unknown) => {
        this.writeError ??= error;
      });
      this.writes.set(name, next);
    }
    this.pending.clear();
  }

  private async write(name: string, status: WorkerStatus, fields: Partial<WorkerRecord>): Promise<void> {
    const at = isoTime(this.clock);
    const launcher = this.launcherOf(name);
    const path = workerPath(this.paths, name);
    const options = { fence: this.fence, stateDir: this.paths.stateDir };
    const mutate = (current: WorkerRecord | undefined): Draft<WorkerRecord> => {
      const { task_id: _t, phase: _p, ...kept } = current ?? { name, status };
      const next = { ...kept, name, status, updated_at: at, last_activity: at, ...fields };
      return launcher.length > 0 ? { ...next, launcher } : next;
    };
    // No lock directory per write: this orchestrator alone writes its slots' files while it holds the
    // session (doctor --fix rebuilds one only while none runs), and a slot's writes are chained.
    const lock = ownedByTheSession(path, this.fence);
    try {
      await updateLocked('worker', path, lock, mutate, options);
    } catch (error) {
      // Only when the file itself fails to load (not our draft, not the disk refusing the write).
      const broken = await loadIfExists('worker', path).then(() => undefined, (loadError: unknown) => brokenFileError(loadError, path));
      if (broken === undefined) throw error;
      // A view, never read back: a file that does not load (torn, a newer version, a link) is
      // rebuilt from scratch rather than left wrong for the rest of the run.
      await fs.rm(path, { force: true });
      this.rebuilt.push(broken.message);
      await updateLocked('worker', path, lock, mutate, options);
    }
  }
}
