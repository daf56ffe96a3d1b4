// The archive of finished records (issue 16): `state/archive/<id>.json`, a copy of each finished task's
// record as orch last wrote it. The engine keeps a finished task it read from disk as a summary, not
// the whole record (src/runtime/record-summary.ts), so when a person edits such a record beyond what
// its seal can undo, the record as orch wrote it comes from here, not from memory (PRODUCT.md §6: the
// edit is kept aside, the record restored). A copy is used only if it is exactly the version the
// engine summarized (its rev, and the hash of its content): a stale or edited copy is never restored.
//
// Copies are written after the record, off the path of the next command: a crash in between leaves a
// finished record without a copy of its last version, and a hand edit of it is then taken as found
// and said (fail closed: nothing runs on a finished task's record unless its spec changes).
import { join } from 'node:path';
import type { TaskRecord } from '../generated/types.js';
import { writeFileDurable } from './durable-write.js';
import { loadOrUndefined } from './load.js';
import { assertSafeId } from './paths.js';
import { sealOf } from './record-seal.js';

function archivedPath(dir: string, id: string): string {
  return join(dir, `${assertSafeId(id, dir)}.json`);
}

/** The copy of task `id` in the archive `dir`, or undefined when there is none or it does not load. */
function readCopy(dir: string, id: string): Promise<TaskRecord | undefined> {
  return loadOrUndefined('record', archivedPath(dir, id));
}

/**
 * The record as orch wrote it, of a record `edited` by hand beyond its state (its seal no longer
 * holds), when the archive in `dir` has it: a copy of the same task and rev whose own seal holds and is
 * the seal the edited file carries. Undefined otherwise (not a finished task's, no copy, another version).
 */
export async function archivedOriginal(dir: string, edited: TaskRecord): Promise<TaskRecord | undefined> {
  if (edited.seal === undefined) return undefined;
  const copy = await readCopy(dir, edited.id);
  return copy !== undefined && copy.id === edited.id && copy.rev === edited.rev && copy.seal === edited.seal && sealOf(copy) === copy.seal ? copy : undefined;
}

export class FinishedArchive {
  private readonly dir: string;
  /** The last copy under way per task: copies of one task are written in order. */
  private readonly writes = new Map<string, Promise<void>>();
  private failure: Error | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Copies `record` (finished, just written) into the archive. Never throws: see takeFailure(). */
  save(record: TaskRecord): void {
    const { id } = record;
    const path = archivedPath(this.dir, id);
    const bytes = `${JSON.stringify(record, null, 2)}\n`;
    const write = (): Promise<void> =>
      writeFileDurable(path, bytes).then(
        () => undefined,
        (error: unknown) => {
          this.failure = error instanceof Error ? error : new Error(String(error));
        },
      );
    const mine = (this.writes.get(id) ?? Promise.resolve()).then(write);
    this.writes.set(id, mine);
    void mine.then(() => {
      if (this.writes.get(id) === mine) this.writes.delete(id);
    });
  }

  /** Resolves once every copy asked for so far is written (or has failed). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes.values()]);
  }

  /** The copy of task `id`, or undefined when there is none or it does not load (the caller checks its version). */
  async load(id: string): Promise<TaskRecord | undefined> {
    await this.writes.get(id);
    return readCopy(this.dir, id);
  }

  /** The last failure of a copy since the last call (a full disk): for the run log, once. */
  takeFailure(): Error | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

}
