// What `orch status` made of each file, kept between runs in state/status-cache.json, keyed by the
// file's stat signature (as git's index is): a file unchanged since the last `orch status` costs one
// lstat instead of a read, a parse and a validation. At 10,000 finished tasks that is the difference
// between reading 20,000 files and stating them (docs/benchmarks.md).
//
// It is a cache, never a source of truth: an entry is used only while its file's signature is the one
// it was made from, an entry is stored only when its file had not changed for RACY_MS before the read
// (a same-size rewrite within the clock's tick would not show in the signature), and a cache that is
// missing, unreadable, invalid, of another version or made under other schemas is simply rebuilt.
// Failing to write it (a read-only state dir, a full disk) costs the next run its speed, nothing else.
import { existsSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { SCHEMA_SET } from '../generated/schema-set.js';
import type { CachedRecord, CachedSpec, StatusCache } from '../generated/types.js';
import { CURRENT_VERSION, schemaRef } from '../schema/validators.js';
import { RACY_MS, signatureOf } from '../store/cached-folder.js';
import { writeFileDurable } from '../store/durable-write.js';
import { validateDocument } from '../store/load.js';
import type { StatePaths } from '../store/paths.js';
import { readTextFileSync } from '../store/read-file.js';

/** The cache of a large project is larger than any state file: 100,000 tasks make about 18 MB. */
const MAX_CACHE_BYTES = 512 * 1024 * 1024;

/** A file's signature, and whether an entry made from the read that follows may be kept. */
export interface FileSignature {
  sig: string;
  /** The file had not changed for RACY_MS when it was read. */
  settled: boolean;
}

type Sections = Pick<StatusCache, 'records' | 'specs' | 'valid'>;
type Section = keyof Sections;
type EntryOf<S extends Section> = NonNullable<Sections[S][string]>;

/** `map[key]` when it is the map's own entry (not Object.prototype's "constructor", say). */
function own<T>(map: { [key: string]: T | undefined }, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

export class StatusCacheFile {
  private readonly path: string;
  private readonly stateDir: string;
  private readonly old: Sections;
  private readonly oldRev: number;
  /** The entries of the next cache, as lists: made into objects only when it is written (rarely). */
  private readonly next: { [S in Section]: [string, EntryOf<S>][] } = { records: [], specs: [], valid: [] };
  /** Entries added or changed since the old cache (an old one not kept is found by counting). */
  private added = 0;
  /** The clock of the racy-file rule (tests move it on rather than wait). */
  private readonly clock: () => number;

  private constructor(paths: StatePaths, old: StatusCache | undefined, clock: () => number) {
    this.clock = clock;
    this.path = paths.statusCache;
    this.stateDir = paths.stateDir;
    this.old = old ?? { records: {}, specs: {}, valid: {} };
    this.oldRev = old?.rev ?? 0;
  }

  /** The cache as the last `orch status` left it; an empty one if there is none or it is not usable. */
  static open(paths: StatePaths, clock: () => number = Date.now): StatusCacheFile {
    const path = paths.statusCache;
    let old: StatusCache | undefined;
    try {
      // JSON.parse, not parseJson: its duplicate-key guard is for files people edit, and costs 20 ms
      // on the cache of 10,000 tasks.
      old = validateDocument('cache', path, JSON.parse(readTextFileSync(path, { maxBytes: MAX_CACHE_BYTES }).text));
      // Judged under other schemas (another build of orch): what was valid then may not be now.
      if (old.schemas !== SCHEMA_SET) old = undefined;
    } catch {
      old = undefined; // missing, broken, newer, unreadable: rebuilt from the files themselves
    }
    return new StatusCacheFile(paths, old, clock);
  }

  /**
   * The lstat signature of `path` (undefined when it is gone), taken before the file is read. The
   * ctime counts too: it moves on with every change, even one whose mtime was set back.
   */
  signature(path: string): FileSignature | undefined {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return undefined;
    return { sig: signatureOf(stats), settled: this.clock() - Math.max(stats.mtimeMs, stats.ctimeMs) > RACY_MS };
  }

  /** The cached summary of the record of task `id`, if its file's signature is still `sig`. */
  record(id: string, sig: string): CachedRecord | undefined {
    return this.hit('records', id, sig);
  }

  /** The cached entry of spec file `name`, if its signature is still `sig`. */
  spec(name: string, sig: string): CachedSpec | undefined {
    return this.hit('specs', name, sig);
  }

  /** True when the file at `relPath` (from the state dir) was found valid with this signature. */
  valid(relPath: string, sig: string): boolean {
    if (own(this.old.valid, relPath) !== sig) return false;
    this.next.valid.push([relPath, sig]);
    return true;
  }

  /** Remembers what was made of a file just read, if it had settled. */
  putRecord(id: string, file: FileSignature, entry: Omit<CachedRecord, 'sig'>): void {
    if (file.settled) this.put('records', id, { sig: file.sig, ...entry });
  }

  putSpec(name: string, file: FileSignature, entry: Omit<CachedSpec, 'sig'>): void {
    if (file.settled) this.put('specs', name, { sig: file.sig, ...entry });
  }

  putValid(relPath: string, file: FileSignature): void {
    if (file.settled) this.put('valid', relPath, file.sig);
  }

  /**
   * Writes the cache when it changed. Never throws: the cache only saves time. Not written into a
   * state dir that does not exist yet (a read command creates nothing).
   */
  async save(): Promise<void> {
    if (!this.changed() || !existsSync(dirname(this.path))) return;
    // Object.fromEntries defines each key as the object's own: a task may be called "__proto__".
    const doc: StatusCache = {
      $schema: schemaRef('cache', this.path, this.stateDir),
      version: CURRENT_VERSION.cache,
      rev: this.oldRev + 1,
      schemas: SCHEMA_SET,
      written_at: new Date(this.clock()).toISOString(),
      records: Object.fromEntries(this.next.records),
      specs: Object.fromEntries(this.next.specs),
      valid: Object.fromEntries(this.next.valid),
    };
    await writeFileDurable(this.path, `${JSON.stringify(doc)}\n`).catch(() => undefined);
  }

  /** Changed: an entry added, or one of the old ones not kept (its file is gone or changed). */
  private changed(): boolean {
    if (this.added > 0) return true;
    const { old, next } = this;
    const kept = next.records.length + next.specs.length + next.valid.length;
    return kept !== Object.keys(old.records).length + Object.keys(old.specs).length + Object.keys(old.valid).length;
  }

  private hit<S extends 'records' | 'specs'>(section: S, key: string, sig: string): EntryOf<S> | undefined {
    const entry = own(this.old[section] as { [key: string]: EntryOf<S> | undefined }, key);
    if (entry === undefined || entry.sig !== sig) return undefined;
    this.next[section].push([key, entry]);
    return entry;
  }

  private put<S extends Section>(section: S, key: string, entry: EntryOf<S>): void {
    this.next[section].push([key, entry]);
    this.added += 1;
  }
}
