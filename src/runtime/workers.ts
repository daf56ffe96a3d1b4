// Worker slots (PRODUCT.md §4): `workers` of them, each running one command at a time, each a file in
// state/workers/ that says what it does (creating, idle, busy, stopping, stopped, error).
//
// The files are a view for people and tools, not state the engine reads back: a slot's status
// changes are written in order, one after another, but the engine does not wait for them before it
// starts a command (that wait cost a durable write per attempt on the way to every spawn). They are
// written WORKER_WRITE_DELAY_MS after a change, the changes of that time in one write: a slot's two
// fsyncs then no longer compete with the record writes of a launch for the disk, and a slot that goes
// busy and idle again within that time (a quick command) costs one write instead of two.
import type { OrchConfig, WorkerRecord } from '../generated/types.js';
import { isoTime, type Clock } from '../clock.js';
import { updateDocument, type Fence } from '../store/fenced-update.js';
import { workerPath, type StatePaths } from '../store/paths.js';

type WorkerStatus = WorkerRecord['status'];
type SlotChange = { status: WorkerStatus; fields: Partial<WorkerRecord> };

/** How long after a change a slot's file is written (the changes of that time in one write). */
export const WORKER_WRITE_DELAY_MS = 100;

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
    for (const name of this.names) {
      await this.write(name, 'idle', {});
      this.free.push(name);
    }
  }

  take(): string | undefined {
    return this.free.shift();
  }

  hasFree(): boolean {
    return this.free.length > 0;
  }

  busy(name: string, taskId: string, phase: string): void {
    this.queue(name, 'busy', { task_id: taskId, phase });
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
    for (const name of this.names) await this.write(name, 'stopped', {});
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
    await updateDocument(
      'worker',
      workerPath(this.paths, name),
      current => {
        const { task_id: _t, phase: _p, ...kept } = current ?? { name, status };
        const next = { ...kept, name, status, updated_at: at, last_activity: at, ...fields };
        return launcher.length > 0 ? { ...next, launcher } : next;
      },
      { fence: this.fence, stateDir: this.paths.stateDir },
    );
  }
}
