// A spec's task id, and the refusal of specs that share one. Apart from specs.ts (which hashes the
// bytes with node:crypto) so that `orch status` can name tasks without loading crypto at its start.
import { basename } from 'node:path';
import type { TaskSpec } from '../generated/types.js';
import { OrchError } from '../errors.js';
import type { LoadFailure } from './load.js';

/** The id a spec file names: its `id` field, else the file name without `.json`. */
export function specIdOf(path: string, spec: Pick<TaskSpec, 'id'>): string {
  return spec.id ?? basename(path, '.json');
}

/** One failure per spec file of `files`, which all name task `id`: which one is meant is unknowable. */
export function duplicateIdFailures(id: string, files: readonly string[]): LoadFailure[] {
  return files.map(path => ({
    path,
    error: new OrchError('ORCH_SCHEMA_INVALID', `${path}: task id "${id}" is also used by ${files.filter(f => f !== path).join(', ')}`, {
      details: { file: path, problems: [{ path: '/id', message: `duplicate task id "${id}"` }] },
      hint: 'give each task its own id (the file name, or the "id" field)',
    }),
  }));
}
