// The files `orch status` reads, each through status-cache.json: a file whose signature the cache
// knows is not read again. Every file that fails to load is read again each time (a few, usually)
// and reported, as PRODUCT.md §2 wants: nothing silently skipped.
import { relative, sep } from 'node:path';
import type { TaskRecord, TaskSpec } from '../generated/types.js';
import { firstLine } from '../machine/messages.js';
import { CURRENT_VERSION, type FileKind } from '../schema/validators.js';
import { signatureOf } from '../store/cached-folder.js';
import { listJsonFiles, loadDocument, toOrchError, validateDocument, type LoadFailure } from '../store/load.js';
import { parseJson } from '../store/parse-json.js';
import { assertSafeId, type StatePaths } from '../store/paths.js';
import { readTextFileSync } from '../store/read-file.js';
import { duplicateIdFailures, specIdOf } from '../store/spec-id.js';
import { invalidFile, listDocuments, listFolder, misnamedRecord, type InvalidFile } from './read-state.js';
import type { StatusCacheFile } from './status-cache.js';
import { summarizeRecord, taskRow, waitingToStart, type BusyTask, type RecordSummary, type TaskRow } from './status-row.js';

// Per file of 10,000 or 100,000: a plain concatenation, not path.join, whose normalizing costs a
// microsecond each (the folder is absolute and normalized, a listed name has no slash).
const inFolder = (dir: string, name: string): string => `${dir}${sep}${name}`;
const stemOf = (name: string): string => name.slice(0, -'.json'.length);

function failureOf(path: string, error: unknown): LoadFailure {
  return { path, error: toOrchError(path, error) };
}

/** A task record as status keeps it for every task: which, where, and its summary. */
export interface RecordEntry {
  id: string;
  path: string;
  summary: RecordSummary;
  /** The signature at which the file was found valid (settled: see status-cache.ts). */
  validAt?: string;
}

/**
 * Every task record's summary, in file-name order, every record that failed to load, and the refused
 * hand edits kept beside them (relative to the root: neither records nor errors).
 */
export async function readRecordEntries(paths: StatePaths, cache: StatusCacheFile): Promise<{ entries: RecordEntry[]; invalid: InvalidFile[]; rejected: string[] }> {
  const entries: RecordEntry[] = [];
  const invalid: InvalidFile[] = [];
  const { documents, rejected } = await listFolder(paths.records);
  for (const name of documents) {
    const path = inFolder(paths.records, name);
    const file = cache.signature(path);
    if (file === undefined) continue; // removed since the listing
    const id = stemOf(name); // a record's file is named after its task (or it is refused)
    const hit = cache.record(id, file.sig);
    if (hit !== undefined) {
      entries.push({ id, path, summary: hit, validAt: hit.sig });
      continue;
    }
    try {
      const { doc } = await loadDocument('record', path);
      const misnamed = misnamedRecord(paths, path, doc.id);
      if (misnamed !== undefined) {
        invalid.push(misnamed);
        continue;
      }
      const summary = summarizeRecord(doc);
      cache.putRecord(id, file, summary);
      entries.push({ id, path, summary, ...(file.settled && { validAt: file.sig }) });
    } catch (error) {
      invalid.push(invalidFile(paths.root, 'record', failureOf(path, error)));
    }
  }
  return { entries, invalid, rejected: rejected.map(name => relative(paths.root, inFolder(paths.records, name))) };
}

/** A spec that names a task of its own. */
export interface SpecEntry {
  path: string;
  id: string;
}

/**
 * Every spec of the tasks folder that names a task of its own, and the failures: as store/specs.ts
 * loadSpecs judges them, without hashing the bytes (status does not compare specs with records).
 */
export async function readSpecEntries(paths: StatePaths, cache: StatusCacheFile): Promise<{ specs: SpecEntry[]; errors: LoadFailure[] }> {
  const byId = new Map<string, string>();
  /** Ids named by more than one spec, with all their files. */
  const shared = new Map<string, string[]>();
  const errors: LoadFailure[] = [];
  for (const name of await listJsonFiles(paths.tasks)) {
    const path = inFolder(paths.tasks, name);
    const file = cache.signature(path);
    if (file === undefined) continue;
    const stem = stemOf(name);
    const hit = cache.spec(name, file.sig);
    let id = hit === undefined ? undefined : (hit.id ?? stem);
    if (id === undefined) {
      try {
        const { doc } = await loadDocument('spec', path);
        id = assertSafeId(specIdOf(path, doc), path);
        cache.putSpec(name, file, id === stem ? {} : { id });
      } catch (error) {
        errors.push(failureOf(path, error));
        continue;
      }
    }
    const first = byId.get(id);
    if (first === undefined) byId.set(id, path);
    else shared.set(id, [...(shared.get(id) ?? [first]), path]);
  }
  const specs: SpecEntry[] = [];
  for (const [id, path] of byId) if (!shared.has(id)) specs.push({ id, path });
  for (const [id, files] of shared) errors.push(...duplicateIdFailures(id, files));
  return { specs, errors };
}

/** A row read now, or why there is none: the file is gone (nothing to say) or no longer loads. */
export type RowRead = { row: TaskRow } | { invalid?: InvalidFile };

/**
 * The row of a task shown, from its file read now (a shown row is never older than the files): a
 * record, or the spec of a task the orchestrator has not taken up yet.
 */
export async function readRow(paths: StatePaths, listed: { record: RecordEntry } | { spec: string }, now: number, done: ReadonlySet<string>, busy: readonly BusyTask[]): Promise<RowRead> {
  const [kind, path] = 'record' in listed ? (['record', listed.record.path] as const) : (['spec', listed.spec] as const);
  try {
    if (kind === 'spec') return { row: unrecordedRow(path, (await loadDocument('spec', path)).doc, done, busy) };
    const doc = readRecord(path, 'record' in listed ? listed.record.validAt : undefined);
    const misnamed = misnamedRecord(paths, path, doc.id);
    return misnamed === undefined ? { row: taskRow(doc, now, done, busy) } : { invalid: misnamed };
  } catch (error) {
    const failure = failureOf(path, error);
    return failure.error.code === 'ORCH_NOT_FOUND' ? {} : { invalid: invalidFile(paths.root, kind, failure) };
  }
}

/**
 * A record, read; its schema check is skipped when the bytes read are those found valid before: the
 * same signature (fstat of what was read) and the current version. At a cold start that spares
 * loading the record validator (127 KB of code) for the rows of one page.
 */
function readRecord(path: string, validAt: string | undefined): TaskRecord {
  const { text, stats } = readTextFileSync(path);
  const value = parseJson(path, text);
  const unchanged = validAt !== undefined && signatureOf(stats) === validAt && (value as Partial<TaskRecord> | null)?.version === CURRENT_VERSION.record;
  return unchanged ? (value as TaskRecord) : validateDocument('record', path, value);
}

function unrecordedRow(path: string, spec: TaskSpec, done: ReadonlySet<string>, busy: readonly BusyTask[]): TaskRow {
  return {
    id: assertSafeId(specIdOf(path, spec), path), title: spec.title ?? firstLine(spec.goal ?? ''), state: 'NEW', activity: 'queued',
    phase: null, step: null, attempts: 0, phase_attempts: 0, worker: null, host: null, since: null, waiting_until: null,
    waiting_for: waitingToStart(spec, done, busy) ?? 'the orchestrator to take it up',
    last_error: null, cost_usd: 0, tokens: 0, recorded: false,
  };
}

/** Checks one file of `kind` against its schema (a missing file is no problem); the failure if any. */
export async function checkFile(kind: FileKind, path: string, paths: StatePaths, cache: StatusCacheFile): Promise<InvalidFile | undefined> {
  const file = cache.signature(path);
  if (file === undefined) return undefined;
  const key = relative(paths.stateDir, path);
  if (cache.valid(key, file.sig)) return undefined;
  try {
    await loadDocument(kind, path);
    cache.putValid(key, file);
    return undefined;
  } catch (error) {
    const failure = failureOf(path, error);
    if (failure.error.code === 'ORCH_NOT_FOUND') return undefined; // removed since the stat
    return invalidFile(paths.root, kind, failure);
  }
}

/** checkFile for every document of a folder. */
export async function checkFolder(kind: FileKind, dir: string, paths: StatePaths, cache: StatusCacheFile): Promise<InvalidFile[]> {
  const invalid: InvalidFile[] = [];
  for (const name of await listDocuments(dir)) {
    const problem = await checkFile(kind, inFolder(dir, name), paths, cache);
    if (problem !== undefined) invalid.push(problem);
  }
  return invalid;
}
