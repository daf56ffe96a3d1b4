// The schemas/ folder of the installed orch package, found from this module's own location (which
// differs between the sources run by tests and the built dist/ code).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageSchemaDir(): string {
  if (cached !== undefined) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas', 'task-spec.schema.json'))) {
      cached = join(dir, 'schemas');
      return cached;
    }
  }
  throw new Error('the orch package has no schemas/ folder: the installation is incomplete');
}

/** The installed orch package's root (where package.json, schemas/ and agents/ are). */
export function packageRoot(): string {
  return dirname(packageSchemaDir());
}
