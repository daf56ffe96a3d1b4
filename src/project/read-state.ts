// Reading the state dir for the read-only commands: every good record, and every file that failed to
// load as a one-line reason (PRODUCT.md §2, §6: nothing is silently skipped). Kept light (no machine,
// no runtime, no lock): `orch review` loads it on its fast path, and the validators (a large module)
// are imported only when a document is to be checked.
import { promises as fs } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { errnoCode, isOrchError, type OrchErrorCode } from '../errors.js';
import type { TaskRecord } from '../generated/types.js';
import type { FileKind } from '../schema/validators.js';
import type { KindShapes } from '../schema/validators.js';
import type { LoadFailure } from '../store/load.js';
import { parseJson } from '../store/parse-json.js';
import type { StatePaths } from '../store/paths.js';
import { readTextFile } from '../store/read-file.js';

/** A file that could not be loaded, for listings: where, and why in one line. */
export interface InvalidFile {
  /** Relative to the project root. */
  path: string;
  kind: FileKind;
  code: OrchErrorCode;
  reason: string;
  line: number | null;
  column: number | null;
}

/**
 * Orders strings by UTF-16 code units. Not localeCompare: its first call loads ICU's collator, which
 * costs several milliseconds of the `orch review` cold start; ids are ASCII, so the order is the same.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A refused hand edit of a record, kept beside it by the orchestrator (`<id>.rejected-<time>.json`);
 * loadAll skips these, status lists them apart.
 */
const REJECTED_EDIT = /\.rejected-[^/]*\.json$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The first line of an error's message without the file name it starts with (the listing shows it). */
export function reasonOf(path: string, message: string): string {
  const first = message.split('\n', 1)[0] ?? '';
  return first.replace(new RegExp(`^${escapeRegExp(path)}(:\\d+:\\d+)?:\\s*`), '');
}

export function invalidFile(root: string, kind: FileKind, failure: LoadFailure): InvalidFile {
  const { details } = failure.error;
  return {
    path: relative(root, failure.path) || failure.path,
    kind,
    code: failure.error.code,
    reason: reasonOf(failure.path, failure.error.message),
    line: typeof details.line === 'number' ? details.line : null,
    column: typeof details.column === 'number' ? details.column : null,
  };
}

export interface RecordsRead<T = TaskRecord> {
  records: T[];
  invalid: InvalidFile[];
}

/** The documents of a folder as a listing keeps them: not the raw bytes (100,000 records: 300 MB). */
export interface DocumentsRead<T> {
  items: { path: string; doc: T }[];
  errors: LoadFailure[];
}

/** Files read at once by loadAllParallel: enough to keep libuv's threadpool busy, few enough for fds. */
export const READ_CONCURRENCY = 32;

/**
 * The documents of a folder: `*.json`, no dotfiles, no refused hand edits. The rule of store/load.ts's
 * listJsonFiles, which cannot be imported without loading every validator.
 */
export async function listDocuments(dir: string): Promise<string[]> {
  return (await listFolder(dir)).documents;
}

/** A folder's documents (as listDocuments) and its refused hand edits, from one listing; both sorted. */
export async function listFolder(dir: string): Promise<{ documents: string[]; rejected: string[] }> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort(compareText);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { documents: [], rejected: [] };
    throw error;
  }
  const documents: string[] = [];
  const rejected: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    (REJECTED_EDIT.test(name) ? rejected : documents).push(name);
  }
  return { documents, rejected };
}

export interface LoadAllOptions<K extends FileKind = FileKind, T = KindShapes[K]> {
  /**
   * Checks only the documents whose parsed JSON passes this, and returns only those; the others are
   * read and parsed (a file that is not JSON is still an error) but not schema-checked.
   */
  only?: (value: unknown) => boolean;
  /** What to keep of each valid document (default: all of it): a listing of 100,000 keeps rows. */
  map?: (doc: KindShapes[K], path: string) => T;
}

/**
 * loadAll of store/load.ts, with the files read concurrently (one after the other, each read's round
 * trips to libuv's threadpool cost milliseconds per ten files) and an optional filter before the
 * schema check. Same result: the good documents and one error per bad file, in file-name order.
 */
export async function loadAllParallel<K extends FileKind, T = KindShapes[K]>(kind: K, dir: string, options: LoadAllOptions<K, T> = {}): Promise<DocumentsRead<T>> {
  const names = await listDocuments(dir);
  const map = options.map ?? ((doc: KindShapes[K]) => doc as unknown as T);
  type Outcome = { item: { path: string; doc: T } } | { failure: LoadFailure } | undefined;
  const outcomes = new Array<Outcome>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) {
      const path = join(dir, names[i] ?? '');
      try {
        const { text } = await readTextFile(path);
        const value = parseJson(path, text);
        if (options.only !== undefined && !options.only(value)) continue;
        const { validateDocument } = await import('../store/load.js');
        outcomes[i] = { item: { path, doc: map(validateDocument(kind, path, value), path) } };
      } catch (error) {
        outcomes[i] = { failure: { path, error: isOrchError(error) ? error : (await import('../store/load.js')).toOrchError(path, error) } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, names.length) }, worker));
  const result: DocumentsRead<T> = { items: [], errors: [] };
  for (const outcome of outcomes) {
    if (outcome === undefined) continue;
    if ('item' in outcome) result.items.push(outcome.item);
    else result.errors.push(outcome.failure);
  }
  return result;
}

/** A record whose file is not named after the task it names (`<id>.json`), as a listed problem. */
export function misnamedRecord(paths: StatePaths, path: string, id: string): InvalidFile | undefined {
  if (basename(path) === `${id}.json`) return undefined;
  return {
    path: relative(paths.root, path),
    kind: 'record',
    code: 'ORCH_SCHEMA_INVALID',
    reason: `/id: the record names task "${id}", but a record's file is named after its task (${id}.json)`,
    line: null,
    column: null,
  };
}

/**
 * Every task record of the state dir (or those `only` keeps), sorted by id, each as `map` makes it
 * (default: the record); a bad file is listed, never thrown.
 */
export async function readRecords<T extends { id: string } = TaskRecord>(paths: StatePaths, options: LoadAllOptions<'record', T> = {}): Promise<RecordsRead<T>> {
  const misnamed: InvalidFile[] = [];
  const map = options.map ?? ((doc: TaskRecord) => doc as unknown as T);
  const { items, errors } = await loadAllParallel('record', paths.records, {
    ...options,
    map: (doc, path) => {
      const wrong = misnamedRecord(paths, path, doc.id);
      if (wrong === undefined) return map(doc, path);
      misnamed.push(wrong);
      return undefined;
    },
  });
  const result: RecordsRead<T> = { records: [], invalid: misnamed };
  for (const item of items) if (item.doc !== undefined) result.records.push(item.doc);
  for (const failure of errors) result.invalid.push(invalidFile(paths.root, 'record', failure));
  result.records.sort((a, b) => compareText(a.id, b.id));
  return result;
}
