// Coalescing: a save is several filesystem events (truncate, write, write, close; or create, rename),
// and a storm is thousands. Pending hints are kept by path, so any number of events for one path
// become one hint, delivered once per turn of the event loop. Memory is bounded by the number of
// distinct paths, and past `limit` new paths collapse into one hint for their whole folder.
import { dirname } from 'node:path';
import type { Hint } from './classify.js';

/** Most distinct paths kept pending before new ones collapse into a hint for their folder. */
export const MAX_PENDING_HINTS = 1000;

export interface HintQueueStats {
  /** Hints waiting for the next delivery. */
  pending: number;
  /** The most hints ever waiting at once. */
  highWater: number;
  /** Hints offered (one per filesystem event that passed the allow-list). */
  offered: number;
  /** Hints delivered after coalescing. */
  delivered: number;
}

export class HintQueue {
  private pending = new Map<string, Hint>();
  private readonly deliver: (hint: Hint) => void;
  private readonly limit: number;
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  private highWater = 0;
  private offered = 0;
  private delivered = 0;

  constructor(deliver: (hint: Hint) => void, limit: number = MAX_PENDING_HINTS) {
    this.deliver = deliver;
    this.limit = Math.max(1, limit);
  }

  add(hint: Hint): void {
    if (this.closed) return;
    this.offered += 1;
    if (this.pending.has(hint.path)) return;
    if (this.pending.size >= this.limit && hint.kind !== 'config') {
      // Overflow: one "look at the whole folder" hint per folder, so the set stays at limit + 3 at most.
      const folder = dirname(hint.path);
      if (!this.pending.has(folder)) this.pending.set(folder, { kind: hint.kind, path: folder });
    } else {
      this.pending.set(hint.path, hint);
    }
    this.highWater = Math.max(this.highWater, this.pending.size);
    // setImmediate runs after the current batch of I/O callbacks: every event of that batch joins in.
    this.scheduled ??= setImmediate(() => this.flush());
  }

  pendingCount(): number {
    return this.pending.size;
  }

  stats(): HintQueueStats {
    return { pending: this.pending.size, highWater: this.highWater, offered: this.offered, delivered: this.delivered };
  }

  /** Drops what is pending and delivers nothing more. */
  close(): void {
    this.closed = true;
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  private flush(): void {
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = new Map();
    for (const hint of batch.values()) {
      if (this.closed) return;
      this.delivered += 1;
      this.deliver(hint);
    }
  }
}
