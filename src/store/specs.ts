// Task specs: human-owned files in tasks/. Loaded, never written. The id is the spec's `id` field or
// else its file name; it is checked before it is ever used as a path, and two specs may not share one.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TaskSpec } from '../generated/types.js';
import { listJsonFiles, loadDocument, toOrchError, type LoadFailure } from './load.js';
import { assertSafeId } from './paths.js';
import { duplicateIdFailures, specIdOf } from './spec-id.js';

export interface LoadedSpec {
  id: string;
  path: string;
  spec: TaskSpec;
  /** sha256 of the file's bytes: what the record's spec_hash is compared with. */
  hash: string;
}

export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function loadSpecFile(path: string): Promise<LoadedSpec> {
  const { doc, bytes } = await loadDocument('spec', path);
  const id = assertSafeId(specIdOf(path, doc), path);
  return { id, path, spec: doc, hash: hashBytes(bytes) };
}

export interface LoadSpecsResult {
  specs: LoadedSpec[];
  errors: LoadFailure[];
}

/**
 * Every spec of the tasks folder. A file whose name is not a safe id is refused unless its `id`
 * field names a safe one; specs that share an id are all refused, since which one is meant is unknowable.
 */
export async function loadSpecs(tasksDir: string): Promise<LoadSpecsResult> {
  const loaded: LoadedSpec[] = [];
  const errors: LoadFailure[] = [];
  for (const name of await listJsonFiles(tasksDir)) {
    const path = join(tasksDir, name);
    try {
      loaded.push(await loadSpecFile(path));
    } catch (error) {
      errors.push({ path, error: toOrchError(path, error) });
    }
  }
  return groupSpecs(loaded, errors);
}

/** The specs that name a task of their own; those sharing an id are added to `errors`, all of them. */
export function groupSpecs(loaded: readonly LoadedSpec[], errors: readonly LoadFailure[]): LoadSpecsResult {
  const all = [...errors];
  const byId = new Map<string, LoadedSpec[]>();
  for (const spec of loaded) byId.set(spec.id, [...(byId.get(spec.id) ?? []), spec]);
  const specs: LoadedSpec[] = [];
  for (const [id, group] of byId) {
    const [only, ...others] = group;
    if (only !== undefined && others.length === 0) {
      specs.push(only);
      continue;
    }
    all.push(...duplicateIdFailures(id, group.map(s => s.path)));
  }
  return { specs, errors: all };
}
