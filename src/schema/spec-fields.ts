// The fields a task spec may have, read from its schema (the one source of their names): what
// `{{task.<field>}}` may name in a phase command.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageSchemaDir } from './package-dir.js';

let cached: readonly string[] | undefined;

export function specFieldNames(): readonly string[] {
  if (cached === undefined) {
    const schema = JSON.parse(readFileSync(join(packageSchemaDir(), 'task-spec.schema.json'), 'utf8')) as { properties?: Record<string, unknown> };
    cached = Object.keys(schema.properties ?? {}).filter(name => !name.startsWith('$'));
  }
  return cached;
}
