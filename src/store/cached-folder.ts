// A folder of JSON documents kept loaded between passes of the engine. A file is read, parsed and
// validated again only when its stat signature changed, so a pass over 10,000 unchanged files costs a
// readdir and 10,000 lstats (microseconds each), not 10,000 reads, parses and validations.
//
// A signature can lie in one case: a file rewritten in place, to the same size, within the same tick
// of the filesystem's clock as the read that cached it ("racy git"). As git does, an entry whose
// file changed within RACY_MS of when it was read is not trusted: it is read again on the next full
// look. The engine's own writes are cached as written (it knows their content): see noteWritten.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { isReadFault, toOrchError, type LoadFailure } from './load.js';

/** How long after a read a change to the same file might not show in its signature. */
export const RACY_MS = 2000;

export type CachedValue<T> = { ok: true; value: T } | { ok: false; failure: LoadFailure };

interface Entry<T> {
  signature: string;
  /** The file's mtime was more than RACY_MS before the read, or the content is our own write. */
  trusted: boolean;
  result: CachedValue<T>;
}

export interface CachedFolderOptions<T> {
  dir: string;
  /** Reads, parses and validates one file; throws on any problem (reported as that file's failure). */
  load: (path: string) => Promise<T>;
  /** The names that are documents of this folder (e.g. `*.json`, no dotfiles). */
  accept: (name: string) => boolean;
  /** True when two loads of a file hold the same document (a re-read of an untrusted entry). */
  same: (a: T, b: T) => boolean;
  now: () => number;
}

export function signatureOf(stats: Stats): string {
  // join() makes one flat string; a template literal makes a tree of seven (V8's cons strings), and
  // every cached file keeps its signature: 20 MiB more at 100,000 tasks' specs and records.
  return [stats.ino, stats.size, stats.mtimeMs, stats.ctimeMs].join(':');
}

export class CachedFolder<T> {
  private readonly entries = new Map<string, Entry<T>>();
  /** The names whose entry is a failure: failures() is asked every pass, and a folder may hold 100,000 files. */
  private readonly failed = new Set<string>();
  private readonly options: CachedFolderOptions<T>;
  /** A trusted entry was made, changed or removed since seed() (or since this folder was made, without one): what trustedValues gives changed. */
  private touched = true;

  private readonly dirPrefix: string;

  constructor(options: CachedFolderOptions<T>) {
    this.options = options;
    this.dirPrefix = join(options.dir, '/');
  }

  get dir(): string {
    return this.options.dir;
  }

  /**
   * The path of the file `name` (a name the folder listing gave, or a hint's basename: no separator).
   * Not join(): its normalization, for every file of every full look, was 3 % of a 100,000-task start.
   */
  private pathOf(name: string): string {
    return this.dirPrefix + name;
  }

  /** Lists the folder again: drops entries whose file is gone, loads new and changed files. Returns the names that changed. */
  async refreshAll(): Promise<Set<string>> {
    let names: string[];
    try {
      names = readdirSync(this.options.dir).filter(this.options.accept).sort();
    } catch (error) {
      // EMFILE, EACCES, EIO…: an OrchError naming the folder, which the engine reports and retries.
      if (errnoCode(error) !== 'ENOENT') throw toOrchError(this.options.dir, error);
      names = [];
    }
    const changed = new Set<string>();
    const present = new Set(names);
    for (const name of [...this.entries.keys()]) {
      if (!present.has(name)) {
        this.remove(name);
        changed.add(name);
      }
    }
    for (const name of names) if (await this.refresh(name, { full: true })) changed.add(name);
    return changed;
  }

  /**
   * Looks at one file again (a watcher's hint). True when its entry changed. A file that is not a
   * document of this folder by name is ignored.
   */
  async refresh(name: string, options: { full?: boolean } = {}): Promise<boolean> {
    if (!this.options.accept(name)) return false;
    const path = this.pathOf(name);
    const stats = lstatSync(path, { throwIfNoEntry: false });
    const known = this.entries.get(name);
    // A name the folder listing gave that cannot be looked up (not valid UTF-8: Node decodes it with
    // U+FFFD and cannot give it back as it is) is kept as a failure, so it is reported rather than
    // silently skipped. A hinted name that is simply gone is a deletion, not a failure.
    if (stats === undefined && (options.full === true || name.includes('\uFFFD'))) {
      const failure = await this.options.load(path).then(
        () => undefined,
        (error: unknown) => ({ path, error: toOrchError(path, error) }),
      );
      if (failure !== undefined) {
        this.set(name, { signature: 'unreadable', trusted: false, result: { ok: false, failure } });
        return known === undefined || known.result.ok || known.result.failure.error.message !== failure.error.message;
      }
    }
    if (stats === undefined) {
      if (known === undefined) return false;
      this.remove(name);
      return true;
    }
    const signature = signatureOf(stats);
    if (known !== undefined && known.signature === signature && known.trusted) return false;
    const readAt = this.options.now();
    const result = await this.options.load(path).then(
      (value): CachedValue<T> => ({ ok: true, value }),
      (error: unknown): CachedValue<T> => ({ ok: false, failure: { path, error: toOrchError(path, error) } }),
    );
    // The signature is of the stat taken before the read: if the file changed in between, the next
    // look sees a new signature and reads it again. A read the system refused (EMFILE) says nothing
    // about the file: it is read again at the next look.
    const trusted = readAt - stats.mtimeMs > RACY_MS && (result.ok || !isReadFault(result.failure.error));
    this.set(name, { signature, trusted, result });
    return !(known !== undefined && known.signature === signature && this.sameResult(known.result, result));
  }

  /**
   * Caches `value` as the content of `name`, just written by us with `signature` (writeFileDurable's
   * stats at the rename), if the file still has it. A stat taken now alone could be of a file put
   * there since our write (a person's edit, a FIFO), and the signature of the write alone could be of
   * a file deleted since: either way the cache would hold our write for a file that is not it, and no
   * later look would read it. Otherwise `value` is kept untrusted, with a signature no file has, and
   * false returned: the next look at the file reads it again and reports any difference from our write
   * as a change, a deletion included. (Leaving the entry as it was lost a deletion made right after our
   * first write of a file: with no entry, "gone" was no change, and the engine never restored it.)
   */
  noteWritten(name: string, value: T, signature: string | undefined): boolean {
    const now = lstatSync(this.pathOf(name), { throwIfNoEntry: false });
    if (signature === undefined || now === undefined || signatureOf(now) !== signature) {
      this.set(name, { signature: 'unverified', trusted: false, result: { ok: true, value } });
      return false;
    }
    this.set(name, { signature, trusted: true, result: { ok: true, value } });
    return true;
  }

  /**
   * Takes what an earlier process made of files of this folder (`name`, its file's signature then,
   * and its value), as if it had read them: a file whose signature is still the same is not read
   * again. For a folder not looked at yet; entries must come from reads this class would trust.
   */
  seed(entries: Iterable<readonly [string, string, T]>): void {
    for (const [name, signature, value] of entries) {
      if (!this.options.accept(name)) continue;
      this.entries.set(name, { signature, trusted: true, result: { ok: true, value } });
      this.failed.delete(name);
    }
    this.touched = false;
  }

  /** Whether what trustedValues gives changed since seed(). */
  changedSinceSeed(): boolean {
    return this.touched;
  }

  /** The files whose value may be kept for a later process (see seed): trusted, loaded, with their signature. */
  trustedValues(): [string, string, T][] {
    const out: [string, string, T][] = [];
    for (const [name, entry] of this.entries) if (entry.trusted && entry.result.ok) out.push([name, entry.signature, entry.result.value]);
    return out;
  }

  private set(name: string, entry: Entry<T>): void {
    const old = this.entries.get(name);
    this.entries.set(name, entry);
    if (entry.result.ok) this.failed.delete(name);
    else this.failed.add(name);
    // Untrusted entries are never kept for a later process (trustedValues): reading one again changes nothing there.
    if (old?.trusted === true || entry.trusted) this.touched = true;
  }

  private remove(name: string): void {
    if (this.entries.get(name)?.trusted === true) this.touched = true;
    this.entries.delete(name);
    this.failed.delete(name);
  }

  get(name: string): CachedValue<T> | undefined {
    return this.entries.get(name)?.result;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** An untrusted entry read again to the same document or failure is not a change. */
  private sameResult(a: CachedValue<T>, b: CachedValue<T>): boolean {
    if (a.ok && b.ok) return this.options.same(a.value, b.value);
    return !a.ok && !b.ok && a.failure.error.message === b.failure.error.message;
  }

  failures(): LoadFailure[] {
    const out: LoadFailure[] = [];
    for (const name of this.failed) {
      const result = this.entries.get(name)?.result;
      if (result !== undefined && !result.ok) out.push(result.failure);
    }
    return out;
  }
}
