// What the engine does about a record file that is not as it wrote it, and cannot be settled by
// judging the edit against its own copy (apply does that): a record edited while no orchestrator ran,
// one a hand edit made unreadable, one removed, and a finished task's that the engine keeps only as a
// summary (record-summary.ts), whose whole record must be found again before anything can step from
// it. PRODUCT.md §6: a refused edit is never lost (kept beside the record), the record is restored;
// when orch cannot tell what it wrote, it fails closed (the record taken as found, said, kept aside).
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { TaskRecord } from '../generated/types.js';
import type { Clock } from '../clock.js';
import type { OrchError } from '../errors.js';
import type { TaskEvent } from '../machine/transition.js';
import type { LogEntry } from '../runlog/run-log.js';
import { writeFileDurable } from '../store/durable-write.js';
import { archivedOriginal, type FinishedArchive } from '../store/finished-archive.js';
import { loadOrUndefined, toOrchError } from '../store/load.js';
import { pathExists, recordPath, type StatePaths } from '../store/paths.js';
import { readBytesSync } from '../store/read-file.js';
import { checkSeal } from '../store/record-seal.js';
import { rejectedName } from './hand-edit.js';
import { isRecordOf, isSummary, type StoredRecord } from './record-summary.js';

/** What RecordRepair needs of the engine. */
export interface RepairHost {
  readonly paths: StatePaths;
  readonly clock: Clock;
  readonly archive: FinishedArchive;
  /** The engine's copy of task `id`. */
  stored(id: string): StoredRecord | undefined;
  /** Takes `record` as the engine's copy of its task. */
  keep(record: StoredRecord): void;
  /** Forgets task `id`: the next pass compares its spec as a new task's. */
  forget(id: string): void;
  /** Whether a write of task `id` failed and may have landed (record-writes.ts): the next apply settles its file. */
  unconfirmed(id: string): boolean;
  /** Settles a hand edit of `id` (no event), or applies `event`: see Engine.apply. */
  apply(id: string, event?: TaskEvent): Promise<TaskRecord | undefined>;
  /** Writes `ours` back to its record file (rev raised), in order with the engine's other writes of it, once `before` says to. True if written. */
  writeBack(id: string, ours: TaskRecord, before: () => Promise<boolean>): Promise<boolean>;
  /** The file at `path` no longer waits to settle (it was dealt with). */
  settled(path: string): void;
  log(entry: LogEntry): Promise<void>;
}

const RECORDS_ARE_OURS = "records are the orchestrator's: use `orch cancel` to stop a task, `orch clean` to remove finished ones";

export class RecordRepair {
  private readonly host: RepairHost;

  constructor(host: RepairHost) {
    this.host = host;
  }

  /**
   * At start, before anything writes a record: the records edited by hand while no orchestrator ran
   * (their seal does not hold, src/store/record-seal.ts) are judged as a live orchestrator would have.
   * Only `state` changed: the record as orch wrote it is known, so the edit is a person's decision, or
   * refused and that record restored. More than `state`: a finished task's record as orch wrote it
   * may be in the archive; otherwise see takeUnrestorableEdit. Returns `records` as they are now.
   */
  async judgeOfflineEdits(records: readonly StoredRecord[]): Promise<StoredRecord[]> {
    const { host } = this;
    for (const record of records) {
      if (isSummary(record)) continue; // summarized only when its seal holds (or it has none)
      const check = checkSeal(record);
      if (check.kind === 'state_edited') {
        host.keep(check.original);
        await host.apply(record.id); // judged against the original, as a live engine judges against its copy
      } else if (check.kind === 'edited') {
        const original = await archivedOriginal(host.paths.archive, record);
        if (original === undefined) await this.takeUnrestorableEdit(record);
        else {
          host.keep(original);
          await host.apply(record.id); // judged against the original, as live: refused, kept aside, restored
        }
      }
    }
    return records.map(record => host.stored(record.id) ?? record);
  }

  /**
   * A record edited beyond its state while no orchestrator ran: it cannot be restored, and it must
   * not be run on unseen (fail closed). The edit as found is kept aside, and the machine parks the task
   * for a person (hand_edit_found); a NEW or finished task is left as edited. Either way the record is
   * written again, sealed, so the next start does not judge the same edit twice.
   */
  private async takeUnrestorableEdit(record: TaskRecord): Promise<void> {
    const { host } = this;
    const { id } = record;
    const name = await this.keepAside(id, record);
    host.keep(record);
    const after = await host.apply(id, { type: 'hand_edit_found', reason: `its record was edited by hand beyond its state while no orchestrator ran; the edit as found is kept as ${name}` });
    const parked = after !== undefined && after.rev !== record.rev;
    if (!parked) await host.writeBack(id, record, async () => true);
    await host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `The record of task ${id} was edited by hand while no orchestrator ran, beyond its state: orch keeps no copy to restore it from`,
      details: [
        `the edit as found is kept as ${name}`,
        parked
          ? `nothing runs on it until a person looks: \`orch approve ${id}\` goes on from the record as edited, \`orch cancel ${id}\` stops the task`
          : `the task is ${record.state}: nothing runs on it, and the record is taken as edited`,
      ],
    });
  }

  /**
   * The whole record of task `id`, read back when the engine keeps a summary of it (a finished task
   * read from disk, record-summary.ts): from its file when the file holds the version summarized, or
   * holds it with only `state` edited (the seal gives it back, record-seal.ts); else from the archive's
   * copy of that version (finished-archive.ts). Kept whole from then on. Undefined when the engine does
   * not know the task, or neither holds that version (the file edited or removed, and the archive has
   * no copy of it: written before the archive, or lost to a crash right after the task finished).
   */
  async wholeRecord(id: string): Promise<TaskRecord | undefined> {
    const { host } = this;
    const stored = host.stored(id);
    if (stored === undefined || !isSummary(stored)) return stored;
    const onDisk = await loadOrUndefined('record', recordPath(host.paths, id));
    const check = onDisk === undefined ? undefined : checkSeal(onDisk);
    for (const candidate of [onDisk, check?.kind === 'state_edited' ? check.original : undefined]) {
      if (candidate !== undefined && isRecordOf(stored, candidate)) return this.keepWhole(candidate);
    }
    const archived = await host.archive.load(id);
    if (archived !== undefined && isRecordOf(stored, archived)) return this.keepWhole(archived);
    return undefined;
  }

  private keepWhole(record: TaskRecord): TaskRecord {
    this.host.keep(record);
    return record;
  }

  /**
   * A record of ours that a hand edit made unreadable (bad JSON, schema error; not a read the system
   * refused, see isReadFault), or that was replaced by something that is not a regular file (a
   * symlink, a FIFO, a hard link): our last version is written back. The edited bytes of a regular
   * file are kept aside; anything else is neither opened nor followed (a FIFO would block the read, a
   * link would copy out a file from elsewhere), only removed. False if `path` is not such a record,
   * or it cannot be replaced (a directory).
   */
  async restoreBrokenRecord(path: string, error: OrchError): Promise<boolean> {
    const { host } = this;
    const { records } = host.paths;
    if (dirname(path) !== records) return false;
    const id = basename(path, '.json');
    // A finished task's summary: restored from the archive's copy, if it has that version.
    const ours = await this.wholeRecord(id);
    if (ours === undefined) return false;
    if ((await fs.lstat(path).catch(() => undefined))?.isDirectory() === true) return false;
    const name = rejectedName(id, host.clock.now());
    let kept = false;
    await host.writeBack(id, ours, async () => {
      const read = (() => {
        try {
          return readBytesSync(path);
        } catch (readError) {
          return toOrchError(path, readError);
        }
      })();
      if (read instanceof Error) {
        if (read.code === 'ORCH_FILE_TOO_LARGE') {
          // A regular file, too big to read: kept aside as it is, by name.
          await fs.rename(path, join(records, name));
          kept = true;
        } else if (read.code !== 'ORCH_NOT_FOUND') {
          // Refused by the safe reader (a link, a FIFO, a shared hard link): removed, never copied out.
          await fs.unlink(path);
        }
        return true;
      }
      // With the edited file's own permissions: a copy must not show more than the file did.
      await writeFileDurable(join(records, name), read.bytes, { mode: read.stats.mode & 0o777 });
      kept = true;
      return true;
    });
    host.settled(path);
    await host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `Hand edit of the record of task ${id} refused: ${error.message}`,
      details: [kept ? `the edited file is kept as ${name}; the record was restored` : "it was not read, followed nor kept; the record was restored from the orchestrator's copy"],
    });
    return true;
  }

  /**
   * The record of a task the engine knows is gone (deleted, or renamed away) while its spec is still
   * there: a running command's end, a backoff, the history would all be lost with it. It is written
   * back from the engine's copy, and the run log says so. False if the file is there after all.
   */
  async restoreMissingRecord(id: string): Promise<boolean> {
    const { host } = this;
    if (host.stored(id) === undefined || host.unconfirmed(id)) return false;
    const ours = await this.wholeRecord(id);
    if (ours === undefined) return this.forgetUnrestorable(id);
    const path = recordPath(host.paths, id);
    // Back before the lock was taken (an editor's save by rename): judged as it is, not overwritten.
    if (!(await host.writeBack(id, ours, async () => !pathExists(path)))) return false;
    await host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `The record of task ${id} was deleted or moved away: restored from the orchestrator's copy (rev ${ours.rev + 1})`,
      details: [RECORDS_ARE_OURS],
    });
    return true;
  }

  /**
   * A finished task whose record is gone, kept by the engine as a summary with no copy of that version
   * in the archive (see wholeRecord): it cannot be written back. The engine forgets it, as a start
   * would (no record), and its spec runs as a new task; the run log says so. False (nothing written).
   */
  private async forgetUnrestorable(id: string): Promise<boolean> {
    const { host } = this;
    if (pathExists(recordPath(host.paths, id))) return false; // back: judged as it is
    host.forget(id);
    await host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `The record of finished task ${id} was deleted or moved away, and orch has no copy of it to restore: its spec runs again as a new task`,
      details: [RECORDS_ARE_OURS],
    });
    return false;
  }

  /**
   * A finished task kept as a summary whose file holds another version, which the archive has no
   * copy of (see wholeRecord): what orch wrote is lost. The record is taken as found, as a start takes
   * a record edited beyond its state while no orchestrator ran (takeUnrestorableEdit): the edit is kept
   * aside too, the record written again (sealed: the same edit is not judged twice), and said.
   */
  async takeAsFound(id: string): Promise<void> {
    const { host } = this;
    const found = await loadOrUndefined('record', recordPath(host.paths, id));
    if (found === undefined) return; // gone or broken: restoreMissingRecord or settleInvalid deals with it
    const name = await this.keepAside(id, found);
    host.keep(found);
    await host.writeBack(id, found, async () => true);
    await host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `The record of finished task ${id} was edited by hand, and orch has no copy of what it wrote to restore: the record is taken as edited`,
      details: [`the edit as found is kept as ${name}`, `the task is ${found.state}: nothing runs on it unless its spec changes`],
    });
  }

  /** A refused hand edit is kept beside the record, never lost; the record itself was restored. */
  async keepRejectedEdit(id: string, edited: TaskRecord, reason: string): Promise<void> {
    const name = await this.keepAside(id, edited);
    await this.host.log({
      category: 'watcher',
      level: 'error',
      task_id: id,
      message: `Hand edit of the record of task ${id} refused: ${reason}`,
      details: [`the edited file is kept as ${name}; the record was restored`],
    });
  }

  /** Writes `edited` beside the record of `id` (not its own `id` field: an edit may change it) as `<id>.rejected-<time>.json`; returns that name. */
  private async keepAside(id: string, edited: TaskRecord): Promise<string> {
    const name = rejectedName(id, this.host.clock.now());
    await writeFileDurable(join(this.host.paths.records, name), `${JSON.stringify(edited, null, 2)}\n`);
    return name;
  }
}
