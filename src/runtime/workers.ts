// Worker slots (PRODUCT.md §4): `workers` of them, each running one command at a time, each a file in
// state/workers/ that says what it does (creating, idle, busy, stopping, stopped, error).
import type { OrchConfig, WorkerRecord } from '../generated/types.js';
import { isoTime, type Clock } from '../clock.js';
import { updateDocument, type Fence } from '../store/fenced-update.js';
import { workerPath, type StatePaths } from '../store/paths.js';

type WorkerStatus = WorkerRecord['status'];

export class WorkerPool {
  private readonly paths: StatePaths;
  private readonly config: OrchConfig;
  private readonly fence: Fence;
  private readonly clock: Clock;
  private readonly free: string[] = [];
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

  async busy(name: string, taskId: string, phase: string): Promise<void> {
    await this.write(name, 'busy', { task_id: taskId, phase });
  }

  async failed(name: string, error: unknown): Promise<void> {
    await this.write(name, 'error', { last_error: (error as Error)?.message ?? String(error), last_error_at: isoTime(this.clock) });
  }

  async release(name: string): Promise<void> {
    await this.write(name, 'idle', {});
    this.free.push(name);
  }

  async close(): Promise<void> {
    for (const name of this.names) await this.write(name, 'stopped', {});
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
