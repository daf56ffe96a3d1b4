// Older files are migrated on load, one version at a time; newer ones are refused (we cannot know
// what their new fields mean). Version 1 is the only one so far, so every chain is empty, but the
// runner is tested with a synthetic chain so the first real migration lands on tested ground.
import { OrchError } from '../errors.js';
import { CURRENT_VERSION, type FileKind } from '../schema/validators.js';

/** Turns a document of version `from` into one of version `from + 1`. Pure: returns a new object. */
export interface Migration {
  from: number;
  migrate(doc: Record<string, unknown>): Record<string, unknown>;
}

export const MIGRATIONS: { [K in FileKind]: readonly Migration[] } = {
  config: [],
  spec: [],
  record: [],
  worker: [],
  session: [],
  decision: [],
  result: [],
  event: [],
  cache: [],
  summary: [],
  index: [],
};

/**
 * Human-owned kinds whose files may leave `version` out, and the version such a file is taken as. A
 * config is the human's: one written without "version" is read as version 1 (and migrated from there
 * when a version 2 comes), with a warning from its loader, and is never rewritten.
 */
export const IMPLIED_VERSION: Partial<Record<FileKind, number>> = { config: 1 };

/** The version `value` is taken as for want of its own "version" (IMPLIED_VERSION), if so. */
export function impliedVersionOf(kind: FileKind, value: unknown): number | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || 'version' in value) return undefined;
  return IMPLIED_VERSION[kind];
}

/**
 * Brings `doc` up to `current`. A missing version is IMPLIED_VERSION's for the kinds it names; it
 * counts as `current` for other human-owned kinds that do not require one (specs, results);
 * elsewhere the schema reports it as missing.
 */
export function migrateDocument(
  file: string,
  kind: FileKind,
  doc: Record<string, unknown>,
  chain: readonly Migration[] = MIGRATIONS[kind],
  current: number = CURRENT_VERSION[kind],
): Record<string, unknown> {
  const implied = impliedVersionOf(kind, doc);
  if (implied !== undefined) return migrateDocument(file, kind, { ...doc, version: implied }, chain, current);
  const version = doc.version;
  if (version === undefined) return doc;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new OrchError('ORCH_VERSION_UNKNOWN', `${file}: "version" must be a whole number from 1, not ${JSON.stringify(version)}`, {
      details: { file, path: '/version', found: version },
    });
  }
  if (version > current) {
    throw new OrchError('ORCH_VERSION_NEWER', `${file} has version ${version}, but this orch reads ${kind} files up to version ${current}`, {
      details: { file, found: version, supported: current },
      hint: 'upgrade orch to read it; the file is left untouched',
    });
  }
  let out = doc;
  for (let v = version; v < current; v++) {
    const step = chain.find(m => m.from === v);
    if (step === undefined) {
      throw new OrchError('ORCH_VERSION_UNKNOWN', `${file} has version ${version}, and no migration from version ${v} exists`, {
        details: { file, found: version, supported: current },
      });
    }
    out = { ...step.migrate(out), version: v + 1 };
  }
  return out;
}
