// What the engine knows of the tasks folder and the records folder between passes. The engine is
// level-triggered (PRODUCT.md §6): it acts on the difference between specs and records, not on
// events. Looking at the whole tree on every wake-up cost a read, parse and validation of every file
// (2.6 passes per dropped spec: 680 ms at 1,000 stored tasks). So the tree is kept loaded, and a
// pass looks again only at what is due: every file at start, after a watcher error, on a folder hint
// and at each resync (and on every pass when no watcher runs); otherwise only the hinted files.
import { basename, dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { TaskRecord } from '../generated/types.js';
import type { Clock } from '../clock.js';
import { CachedFolder } from '../store/cached-folder.js';
import { writtenSignature } from '../store/fenced-update.js';
import { isDocumentName, loadDocument, type LoadFailure } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { loadSpecFile, type LoadedSpec } from '../store/specs.js';
import { SpecIndex } from './spec-index.js';
import { isSummary, summarize, type StoredRecord } from './record-summary.js';
import type { IndexContent, RecordEntry, SpecEntry } from './record-index.js';
import { isSpecSummary, summarizeSpec, type KnownSpec } from './spec-summary.js';

export interface SpecView {
  /** The specs that name a task of their own, by id. */
  byId: ReadonlyMap<string, KnownSpec>;
  /** Files that failed to load, and specs sharing an id. */
  errors: LoadFailure[];
  /** Changes whenever a spec with dependencies changed: dependency cycles may have changed then. */
  dependencyVersion: number;
}

export interface TreeChanges {
  /** Whether every file was looked at (start, resync, watcher error, no watcher). */
  full: boolean;
  /** Records whose file changed since the last look: only these can hold a hand edit. */
  records: Set<string>;
}

/**
 * Without a watcher, the least time between two looks at every file when the engine runs its own
 * passes (`orch --once`: each attempt's end is a pass; 200 quick tasks made 200 looks at 400 files,
 * a tenth of the main thread). The passes between act on what the engine knows; a look at every file
 * still comes before the run ends.
 */
export const UNWATCHED_LOOK_MS = 250;
/**
 * And at least this many times the last such look took: a look costs a readdir and an lstat per file,
 * so at 10,000 tasks a fixed 250 ms spacing would spend most of the main thread on looks. With it,
 * looks take at most about 1/20 of the time, whatever the size.
 */
export const UNWATCHED_LOOK_SPACING = 20;

export class TaskTree {
  readonly specs: CachedFolder<KnownSpec>;
  readonly records: CachedFolder<StoredRecord>;
  private readonly tasksDir: string;
  private readonly recordsDir: string;
  private readonly watched: boolean;
  private fullDue = true;
  private readonly hinted = new Set<string>();
  /** When the last look at every file began (performance.now()), and whether the last look was one. */
  private lastFullAt = -Infinity;
  /** How long the last look at every file took (ms), for the spacing of the next. */
  private lastFullMs = 0;
  private lastWasFull = false;
  /**
   * The records folder was just looked at whole (lookAtRecords, at start): the next full look takes
   * only the hinted record files. Looking at 100,000 records twice in a row cost a start 0.7 s; a
   * change between the two looks is seen by a later one: the look at everything asked for once the
   * watcher is ready (lookAtEverything clears this), or without a watcher a later pass's.
   */
  private recordsJustLooked = false;
  private readonly index: SpecIndex;

  /** `watched`: a watcher hints at every change; without one a pass looks at every file (spaced: see UNWATCHED_LOOK_MS). */
  constructor(paths: StatePaths, clock: Clock, watched: boolean) {
    this.tasksDir = resolve(paths.tasks);
    this.recordsDir = resolve(paths.records);
    this.watched = watched;
    this.index = new SpecIndex(this.tasksDir);
    const now = (): number => clock.now();
    this.specs = new CachedFolder<KnownSpec>({ dir: this.tasksDir, load: loadSpecFile, accept: isDocumentName, now, same: (a, b) => a.hash === b.hash && a.id === b.id });
    // A finished task's record is kept as its summary (record-summary.ts): most of a big project's records.
    const loadRecord = async (path: string): Promise<StoredRecord> => summarize((await loadDocument('record', path)).doc);
    this.records = new CachedFolder({ dir: this.recordsDir, load: loadRecord, accept: isDocumentName, now, same: isDeepStrictEqual });
  }

  /** "Look at this path again" (a file), or at everything (a folder, or no path). */
  hint(path?: string): void {
    const full = path === undefined ? undefined : resolve(path);
    if (full === undefined || full === this.tasksDir || full === this.recordsDir) this.fullDue = true;
    else this.hinted.add(full);
  }

  /** True when the last refresh looked at every file. */
  lookedAtEverything(): boolean {
    return this.lastWasFull;
  }

  /** Without a watcher, after a refresh that did not look at every file: in how many ms the next look is due. */
  msToNextLook(): number | undefined {
    if (this.watched || this.lastWasFull) return undefined;
    return Math.max(0, this.lastFullAt + this.lookSpacingMs() - performance.now());
  }

  /** The least time between two unhinted looks at every file (UNWATCHED_LOOK_MS, UNWATCHED_LOOK_SPACING). */
  lookSpacingMs(): number {
    return Math.max(UNWATCHED_LOOK_MS, UNWATCHED_LOOK_SPACING * this.lastFullMs);
  }

  /** The next pass looks at every file (resync, watcher error). */
  lookAtEverything(): void {
    this.fullDue = true;
    // Asked for (the watcher ready, a resync, an error): the records folder too, even right after the start's look.
    this.recordsJustLooked = false;
  }

  /** Looks at what is due, and at `alsoPaths` (files the engine is waiting on: settling, deleted). */
  async refresh(alsoPaths: Iterable<string>, options: { throttled?: boolean } = {}): Promise<TreeChanges> {
    const now = performance.now();
    const unwatchedDue = !this.watched && (options.throttled !== true || now - this.lastFullAt >= this.lookSpacingMs());
    this.lastWasFull = this.fullDue || unwatchedDue;
    const paths = new Set([...this.hinted, ...[...alsoPaths].map(p => resolve(p))]);
    this.hinted.clear();
    if (this.lastWasFull) {
      this.lastFullAt = now;
      this.fullDue = false;
      const skipRecords = this.recordsJustLooked;
      this.recordsJustLooked = false;
      const [specs, records] = await Promise.all([
        this.specs.refreshAll(),
        skipRecords ? this.refreshFiles([...paths].filter(path => dirname(path) === this.recordsDir)) : this.records.refreshAll(),
      ]);
      for (const name of specs) this.indexSpec(name);
      this.lastFullMs = performance.now() - now;
      return { full: true, records };
    }
    return { full: false, records: await this.refreshFiles(paths) };
  }

  /** Looks at `paths` again, one file at a time; returns the names of the record files that changed. */
  private async refreshFiles(paths: Iterable<string>): Promise<Set<string>> {
    const records = new Set<string>();
    for (const path of paths) {
      const name = basename(path);
      const folder = dirname(path);
      if (folder === this.tasksDir) {
        if (await this.specs.refresh(name)) this.indexSpec(name);
      } else if (folder === this.recordsDir && (await this.records.refresh(name))) records.add(name);
    }
    return records;
  }

  /** Looks at every record file (the start's, before its first pass): the next full look takes only the hinted ones. */
  async lookAtRecords(): Promise<void> {
    await this.records.refreshAll();
    this.recordsJustLooked = true;
  }

  /** The specs by id, the files that fail to load, and specs that share an id. */
  specView(): SpecView {
    return { byId: this.index.byId, errors: [...this.specs.failures(), ...this.index.duplicates()], dependencyVersion: this.index.dependencyVersion };
  }

  private indexSpec(name: string): void {
    const cached = this.specs.get(name);
    this.index.update(name, cached?.ok === true ? cached.value : undefined);
  }

  /** The task ids whose spec changed (appeared, changed, went) since the last call. */
  takeTouchedSpecs(): Set<string> {
    return this.index.takeTouched();
  }

  /**
   * The spec as its file holds it now, for a task that needs it whole (a spec the start took from the
   * index is read now), or undefined when the file no longer loads or names another task: the next
   * look reads it again and sees its change as any other. A file changed since its summary was made
   * gives its new content, which is what the task must run.
   */
  async wholeSpec(spec: KnownSpec): Promise<LoadedSpec | undefined> {
    if (!isSpecSummary(spec)) return spec;
    const path = join(this.tasksDir, spec.name);
    const loaded = await loadSpecFile(path).catch(() => undefined);
    if (loaded?.id === spec.id) return loaded;
    this.hinted.add(path);
    return undefined;
  }

  /** Whether the spec file at `path` is there in some form (loaded, or failing to load). */
  hasSpecFile(path: string): boolean {
    return dirname(resolve(path)) === this.tasksDir && this.specs.has(basename(path));
  }

  /**
   * The records loaded from `names` (default: every file), each from the file named after its id:
   * only <id>.json is a record (a refused edit kept as <id>.rejected-<time>.json is not).
   */
  recordFiles(names?: Iterable<string>): { name: string; record: StoredRecord }[] {
    const out: { name: string; record: StoredRecord }[] = [];
    for (const name of names ?? this.records.names()) {
      const cached = this.records.get(name);
      if (cached?.ok === true && name === `${cached.value.id}.json`) out.push({ name, record: cached.value });
    }
    return out;
  }

  /**
   * Takes the last run's index (record-index.ts): the records and specs in it are read again only if
   * their file changed. For a tree not looked at yet.
   */
  seed(index: IndexContent): void {
    this.records.seed(index.records);
    this.specs.seed(index.specs);
    for (const [name] of index.specs) this.indexSpec(name);
  }

  /**
   * What is worth an index for the next start: the summaries of the finished records and of the specs
   * whose file's signature is trusted (cached-folder.ts). Undefined when nothing changed since seed.
   */
  indexContent(): IndexContent | undefined {
    if (!this.records.changedSinceSeed() && !this.specs.changedSinceSeed()) return undefined;
    const records: RecordEntry[] = [];
    for (const [name, sig, value] of this.records.trustedValues()) {
      // A whole record (written by this run, or read with a seal that does not hold): summarized only
      // if it can be, its seal checked (an edit the start has not judged yet must be read again).
      const summary = isSummary(value) ? value : summarize(value);
      if (isSummary(summary) && name === `${summary.id}.json`) records.push([name, sig, summary]);
    }
    const specs = this.specs.trustedValues().map(([name, sig, value]): SpecEntry => [name, sig, summarizeSpec(value)]);
    return { records, specs };
  }

  /**
   * Caches the record just written by the engine: its echo from the watcher is not read again. False
   * when what stands there now may not be that write: the file is looked at again by the next pass.
   */
  noteRecordWritten(record: TaskRecord): boolean {
    const name = `${record.id}.json`;
    if (this.records.noteWritten(name, record, writtenSignature(join(this.recordsDir, name), record))) return true;
    this.hinted.add(join(this.recordsDir, name));
    return false;
  }
}
