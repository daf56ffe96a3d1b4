// The engine's record writes (PRODUCT.md §2, §6, §7): every write of a task record goes through here,
// in order per file, as the holder of the session (no lock dir: owned-file.ts), fenced by its epoch.
// An event is applied to the engine's own copy of the record; a hand edit found on disk is judged
// first (a person's decision applied, anything else refused and kept aside), a write that failed
// but may have landed is read back, and the effects of a transition are carried out only once its
// write is durable. What the engine does with a record written (its copy, the archive, the tree) and
// the machine's steps are the engine's: see WritesHost.
import { isDeepStrictEqual } from 'node:util';
import type { TaskRecord } from '../generated/types.js';
import type { Clock } from '../clock.js';
import { isOrchError, type OrchError } from '../errors.js';
import type { Effect, TaskEvent } from '../machine/transition.js';
import type { LogEntry } from '../runlog/run-log.js';
import { updateLocked, writeLocked, type Fence } from '../store/fenced-update.js';
import { loadIfExists } from '../store/load.js';
import type { HeldLock } from '../store/lock.js';
import { ownedByTheSession } from '../store/owned-file.js';
import { pathExists, recordPath, type StatePaths } from '../store/paths.js';
import { crashPoint } from '../testing/crash-points.js';
import { faultPoint } from '../testing/faults.js';
import { LANDING_RETRY_MS } from './attempt-launcher.js';
import { isWriteOf, judgeEdit } from './hand-edit.js';
import type { StoredRecord } from './record-summary.js';

/** What RecordWrites needs of the engine. */
export interface WritesHost {
  readonly paths: StatePaths;
  readonly fence: Fence;
  readonly clock: Clock;
  /** Aborted when the engine stops: ends the waits of writes being tried again. */
  readonly stopped: AbortSignal;
  isStopping(): boolean;
  /** Whether the engine knows task `id` (whole or summarized). */
  known(id: string): boolean;
  /** The engine's whole copy of task `id` (undefined for none, or for a summary). */
  whole(id: string): TaskRecord | undefined;
  keep(record: StoredRecord): void;
  /** `record` was just written by the engine: its copy, the archive's, the tree's (its echo is not a hand edit). */
  written(record: TaskRecord): void;
  /** One pure step of the machine with the engine's context. */
  step(record: TaskRecord, event: TaskEvent): { record: TaskRecord; effects: readonly Effect[] };
  /** The backoff of task `id` as just decided (see Waits). */
  backoffDecided(id: string, nextAttemptAt: string | undefined): void;
  carryOut(id: string, effects: readonly Effect[], rev: number | undefined): Promise<void>;
  log(entry: LogEntry): Promise<void>;
  reportOnce(key: string, message: string, details: string[], taskId?: string): Promise<void>;
  /** record-repair.ts, for a record that is gone, summarized, or edited beyond repair. */
  restoreMissingRecord(id: string): Promise<boolean>;
  wholeRecord(id: string): Promise<TaskRecord | undefined>;
  takeAsFound(id: string): Promise<void>;
  keepRejectedEdit(id: string, edited: TaskRecord, reason: string): Promise<void>;
}

export class RecordWrites {
  private readonly host: WritesHost;
  /** The last write of each record file: its writes are put in order here, not by a lock dir (owned-file.ts). */
  private readonly recordWrites = new Map<string, Promise<unknown>>();
  /** The apply in progress per task: applies to one task are serialized (see applyStrict). */
  private readonly applying = new Map<string, Promise<TaskRecord | undefined>>();
  /**
   * A record write of ours that failed but may have landed (its rename done, the directory fsync
   * refused on EMFILE or EIO) and could not be read back to tell, with the record it was made from.
   * The engine went on as if it had not landed (its effects were not carried out, a command waiting
   * on it was stopped), so if the file turns out to hold it, it is rolled back to that
   * record (a new task's first write: to the task as created): not judged as a hand edit.
   */
  private readonly unconfirmed = new Map<string, { attempted: TaskRecord; before: TaskRecord }>();

  constructor(host: WritesHost) {
    this.host = host;
  }

  /** Whether a write of task `id` failed and may have landed (see unconfirmed): the next apply settles its file. */
  isUnconfirmed(id: string): boolean {
    return this.unconfirmed.has(id);
  }

  /**
   * Writes the engine's copy of task `id` back to its record file (rev raised past it), in order
   * with the engine's other writes of it, once `before` said to (it may clear the way: keep a broken
   * file aside, remove a link). True if it was written.
   */
  async writeBack(id: string, ours: TaskRecord, before: () => Promise<boolean>): Promise<boolean> {
    const path = recordPath(this.host.paths, id);
    return this.writeRecord(path, async lock => {
      if (!(await before())) return false;
      lock.assertHeld();
      this.host.written(await writeLocked('record', path, lock, { ...ours, rev: ours.rev + 1 }));
      return true;
    });
  }

  /** Creates the record of a new task as `fresh`, unless a record of it is there by then. */
  async create(fresh: TaskRecord): Promise<void> {
    const path = recordPath(this.host.paths, fresh.id);
    const written = await this.writeRecord(path, lock => updateLocked('record', path, lock, current => (current === undefined ? fresh : undefined), this.updateOptions()));
    if (written !== undefined) this.host.written(written);
  }

  /**
   * Runs `write` on the record file at `path` after the engine's last write of it, as the holder of the
   * session: no lock dir (owned-file.ts), the session's epoch checked right before the write.
   */
  private writeRecord<T>(path: string, write: (lock: HeldLock) => Promise<T>): Promise<T> {
    const previous = this.recordWrites.get(path) ?? Promise.resolve();
    const mine = previous.then(
      () => write(ownedByTheSession(path, this.host.fence)),
      () => write(ownedByTheSession(path, this.host.fence)),
    );
    this.recordWrites.set(path, mine);
    const forget = (): void => {
      if (this.recordWrites.get(path) === mine) this.recordWrites.delete(path);
    };
    mine.then(forget, forget);
    return mine;
  }

  /**
   * Applies `event` (or, without one, just settles a hand edit) to task `id` in one write of its
   * record (see writeRecord), then carries out the effects. The base is the record as this engine last wrote it: a hand edit
   * found on disk is judged first (a person's decision is applied, anything else refused and kept
   * aside), so a human's edit is never silently folded into an orchestrator write.
   *
   * A failure (a racing writer, a full disk, an illegal move) is reported once and resolves to
   * undefined: a pass goes on with the other tasks, and the next pass looks again. Events that must
   * not be lost go through applyStrict or applyUntilLanded.
   */
  async apply(id: string, event?: TaskEvent): Promise<TaskRecord | undefined> {
    try {
      return await this.applyStrict(id, event === undefined ? [] : [event]);
    } catch (error) {
      if (!isOrchError(error)) throw error;
      await this.reportFailure(id, error);
      return undefined;
    }
  }

  /**
   * apply's work, the events in one write, failures thrown. Applies to one task run one after
   * another: the order of record writes alone would let a second apply read the file between the first one's
   * write and its update of `records`, and take our own write for a hand edit.
   */
  async applyStrict(id: string, events: readonly TaskEvent[], onWritten?: () => void, seed?: TaskRecord): Promise<TaskRecord | undefined> {
    const previous = this.applying.get(id) ?? Promise.resolve();
    const mine = previous.then(
      () => this.applyNow(id, events, onWritten, seed),
      () => this.applyNow(id, events, onWritten, seed),
    );
    this.applying.set(id, mine);
    try {
      return await mine;
    } finally {
      if (this.applying.get(id) === mine) this.applying.delete(id);
    }
  }

  /**
   * An attempt's end must reach the record, or the task would keep an open attempt with no process
   * (and `--once` would end with it unfinished). A write that fails (a full disk, a read-only remount,
   * a racing reader) is tried again, waiting longer each time, until it lands, another orchestrator
   * took over (fenced: never), the move is illegal (it will not become legal by waiting), or this
   * engine stops (then `--resume` finds the attempt open and marks it interrupted).
   */
  async applyUntilLanded(id: string, event: TaskEvent): Promise<void> {
    for (let wait: number = LANDING_RETRY_MS.first; ; wait = Math.min(wait * 2, LANDING_RETRY_MS.max)) {
      try {
        await this.applyStrict(id, [event]);
        return;
      } catch (error) {
        if (!isOrchError(error)) throw error;
        await this.reportFailure(id, error).catch(() => undefined);
        if (error.code === 'ORCH_EPOCH_FENCED' || error.code === 'ORCH_ILLEGAL_TRANSITION' || this.host.isStopping()) return;
        await this.host.clock.sleep(wait, this.host.stopped);
      }
    }
  }

  private async reportFailure(id: string, error: OrchError): Promise<void> {
    await this.host.reportOnce(`${id}:${error.code}:${error.message}`, error.message, error.hint === undefined ? [] : [error.hint], id);
  }

  /**
   * `onWritten` is called once the record is written, before the effects are carried out. With no
   * record on disk, `seed` (a new task's record) is the base, and the write creates the file.
   */
  private async applyNow(id: string, events: readonly TaskEvent[], onWritten?: () => void, seed?: TaskRecord): Promise<TaskRecord | undefined> {
    // A record deleted since the last pass: written back first, or this event (an attempt's end)
    // would find no file and be lost with it.
    if (seed === undefined && this.host.known(id) && !pathExists(recordPath(this.host.paths, id))) await this.host.restoreMissingRecord(id);
    // A finished task kept as a summary: the machine steps from its whole record (read back, or taken as found).
    if (seed === undefined && (await this.host.wholeRecord(id)) === undefined && this.host.known(id)) await this.host.takeAsFound(id);
    let effects: Effect[] = [];
    let refused: { edited: TaskRecord; reason: string } | undefined;
    let decided: TaskEvent | undefined;
    let attempted: TaskRecord | undefined;
    let before: TaskRecord | undefined;
    const path = recordPath(this.host.paths, id);
    const write = this.writeRecord(path, lock => updateLocked(
      'record',
      path,
      lock,
      current => {
        effects = [];
        refused = undefined;
        decided = undefined;
        attempted = undefined;
        const start = current ?? seed;
        if (start === undefined) return undefined;
        const ours = this.host.whole(id);
        const unconfirmed = this.unconfirmed.get(id);
        let base = start;
        if (current !== undefined && unconfirmed !== undefined && isWriteOf(current, unconfirmed.attempted)) {
          base = unconfirmed.before; // rolled back: the engine went on as if it had not landed
        } else if (current !== undefined && ours !== undefined) {
          // Judged whatever its rev: a file at an older rev than ours is an edit made from a stale
          // read (or an old copy put back), never a newer truth to take.
          const verdict = judgeEdit(ours, current);
          base = ours;
          if (verdict.kind === 'decision') {
            decided = verdict.event;
            const step = this.host.step(ours, verdict.event);
            base = step.record;
            effects.push(...step.effects);
          } else if (verdict.kind === 'refused') {
            refused = { edited: current, reason: verdict.reason };
          } else {
            base = current;
          }
        }
        before = base;
        let next = base;
        for (const event of events) {
          const step = this.host.step(next, event);
          next = step.record;
          effects.push(...step.effects);
        }
        // A backoff is counted from the moment it is decided (see Waits): a clock jump during the
        // write cannot stretch it.
        this.host.backoffDecided(id, next.next_attempt_at);
        const changedOnDisk = !isDeepStrictEqual(next, current);
        attempted = changedOnDisk ? next : undefined;
        return attempted;
      },
      this.updateOptions(),
    ));
    const written = await write.catch(async (error: unknown) => {
      // A write can land and still fail (the directory fsync after the rename, on EMFILE or EIO).
      // Taking it for failed would leave our copy behind the file, and the next pass would take our
      // own write for a hand edit and undo it.
      const landed = attempted === undefined ? undefined : await this.landedWrite(id, attempted);
      if (landed !== undefined) return landed;
      if (attempted !== undefined && before !== undefined) this.unconfirmed.set(id, { attempted, before });
      throw error;
    });
    if (written !== undefined) {
      this.unconfirmed.delete(id);
      this.host.written(written);
    }
    onWritten?.();
    if (written === undefined && !this.host.known(id)) {
      const onDisk = await loadIfExists('record', recordPath(this.host.paths, id));
      if (onDisk !== undefined) this.host.keep(onDisk.doc);
    }
    if (refused !== undefined) await this.host.keepRejectedEdit(id, refused.edited, refused.reason);
    if (decided !== undefined) {
      await this.host.log({ category: 'human_review', level: 'info', task_id: id, message: `Task ${id}: the record was edited by hand to ${written?.state ?? '?'}: applied as a decision (${decided.type})` });
    }
    crashPoint('engine.before-effects');
    await this.host.carryOut(id, effects, written?.rev);
    return written ?? this.host.whole(id);
  }

  /** The record on disk if it holds `attempted` (whatever its stamps), else undefined. */
  private async landedWrite(id: string, attempted: TaskRecord): Promise<TaskRecord | undefined> {
    const path = recordPath(this.host.paths, id);
    const onDisk = await (async () => {
      faultPoint('engine.read-back', path);
      return loadIfExists('record', path);
    })().catch(() => undefined);
    return onDisk !== undefined && isWriteOf(onDisk.doc, attempted) ? onDisk.doc : undefined;
  }

  private updateOptions(): { fence: Fence; stateDir: string } {
    return { fence: this.host.fence, stateDir: this.host.paths.stateDir };
  }
}
