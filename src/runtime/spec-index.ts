// The specs of the tasks folder by task id, kept up to date one file at a time. Rebuilding it from
// every file on each change cost a pass over all of them for every dropped spec (12 ms at 1,000
// specs, ten times that at 10,000); an update now costs the changed file only.
import { join } from 'node:path';
import type { LoadFailure } from '../store/load.js';
import { duplicateIdFailures } from '../store/spec-id.js';
import { dependenciesOf, type KnownSpec } from './spec-summary.js';

export class SpecIndex {
  /** The specs that name a task of their own, by id. */
  readonly byId = new Map<string, KnownSpec>();
  /** Raised on every change: views derived from the index recompute only then. */
  version = 0;
  /** Raised when a spec with dependencies (before or after the change) changed: cycles may have too. */
  dependencyVersion = 0;
  private readonly specOfName = new Map<string, KnownSpec>();
  /** Ids whose spec changed (appeared, changed, went) since the last takeTouched. */
  private touchedIds = new Set<string>();
  /** The file names of each id: one name (nearly always) as a string, not a Set of its own per task. */
  private readonly namesOfId = new Map<string, string | string[]>();
  /** Ids named by more than one file. */
  private readonly shared = new Set<string>();
  /** The tasks folder: the names above are of its files. */
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The file `name` now holds `next` (undefined: gone, or failing to load). */
  update(name: string, next: KnownSpec | undefined): void {
    const old = this.specOfName.get(name);
    if (old === next) return;
    if (old === undefined && next !== undefined && !this.namesOfId.has(next.id)) return this.add(name, next);
    const touched = new Set<string>();
    if (old !== undefined) {
      this.specOfName.delete(name);
      this.setNames(old.id, this.names(old.id).filter(n => n !== name));
      touched.add(old.id);
    }
    if (next !== undefined) {
      this.specOfName.set(name, next);
      const names = this.names(next.id);
      if (!names.includes(name)) this.setNames(next.id, [...names, name]);
      touched.add(next.id);
    }
    for (const id of touched) {
      this.touchedIds.add(id);
      const names = this.names(id);
      const only = names.length === 1 ? this.specOfName.get(names[0] ?? '') : undefined;
      if (only !== undefined) this.byId.set(id, only);
      else this.byId.delete(id);
      if (names.length > 1) this.shared.add(id);
      else this.shared.delete(id);
    }
    this.version += 1;
    if ((old !== undefined && dependenciesOf(old).length > 0) || (next !== undefined && dependenciesOf(next).length > 0)) this.dependencyVersion += 1;
  }

  /** update() of a new file whose id no other file names: nearly every update, and every spec a start takes from the index. */
  private add(name: string, spec: KnownSpec): void {
    this.specOfName.set(name, spec);
    this.namesOfId.set(spec.id, name);
    this.byId.set(spec.id, spec);
    this.touchedIds.add(spec.id);
    this.version += 1;
    if (dependenciesOf(spec).length > 0) this.dependencyVersion += 1;
  }

  /** The ids whose spec changed since the last call. */
  takeTouched(): Set<string> {
    const ids = this.touchedIds;
    this.touchedIds = new Set();
    return ids;
  }

  private names(id: string): string[] {
    const names = this.namesOfId.get(id);
    return names === undefined ? [] : typeof names === 'string' ? [names] : names;
  }

  private setNames(id: string, names: string[]): void {
    if (names.length === 0) this.namesOfId.delete(id);
    else this.namesOfId.set(id, names.length === 1 ? (names[0] as string) : names);
  }

  /** One failure per file of every id that more than one file names. */
  duplicates(): LoadFailure[] {
    const failures: LoadFailure[] = [];
    for (const id of this.shared) {
      const paths = [...this.names(id)].sort().map(name => join(this.dir, name));
      failures.push(...duplicateIdFailures(id, paths));
    }
    return failures;
  }
}
