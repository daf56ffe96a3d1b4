// A spec as a start takes it from the record index (record-index.ts): its id, the hash of its bytes
// and its depends_on, which is all a pass compares for a task whose record is already there. Reading,
// parsing and validating every spec at every start was the largest part of a 100,000-task start
// (2.8 s of 10.5). The spec itself is read from its file only when a task needs it: a new task's
// record is made from it, a changed spec is applied to its record.
import { basename } from 'node:path';
import type { SpecSummary } from '../generated/types.js';
import type { LoadedSpec } from '../store/specs.js';

export type { SpecSummary };

/** What the engine knows of a spec file: the spec as read, or its summary. */
export type KnownSpec = LoadedSpec | SpecSummary;

export function isSpecSummary(spec: KnownSpec): spec is SpecSummary {
  return 'summarized' in spec;
}

export function dependenciesOf(spec: KnownSpec): readonly string[] {
  return (isSpecSummary(spec) ? spec.depends_on : spec.spec.depends_on) ?? [];
}

export function summarizeSpec(spec: KnownSpec): SpecSummary {
  if (isSpecSummary(spec)) return spec;
  const dependsOn = dependenciesOf(spec);
  return { summarized: true, id: spec.id, name: basename(spec.path), hash: spec.hash, ...(dependsOn.length > 0 && { depends_on: [...dependsOn] }) };
}
