// Read → parse → version → migrate → validate, for one file or a whole folder. A folder load never
// stops at a bad file: it returns every good document and one error per bad file.
import { promises as fs, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OrchError, errnoCode, isOrchError } from '../errors.js';
import { FILE_KINDS, schemaProblems, type FileKind, type KindShapes } from '../schema/validators.js';
import { impliedVersionOf, migrateDocument } from './migrate.js';
import { parseJson } from './parse-json.js';
import { readTextFile, type ReadOptions } from './read-file.js';

export interface Loaded<K extends FileKind> {
  path: string;
  doc: KindShapes[K];
  /** The exact bytes read (for hashing specs, and for restoring a record). */
  bytes: Buffer;
  /** Set when the file had no "version" and was read as this one (IMPLIED_VERSION): worth a warning. */
  impliedVersion?: number;
}

/** Validates an already parsed document; throws ORCH_SCHEMA_INVALID naming every problem. */
export function validateDocument<K extends FileKind>(kind: K, file: string, value: unknown): KindShapes[K] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OrchError('ORCH_SCHEMA_INVALID', `${file}: must be a JSON object`, {
      details: { file, problems: [{ path: '/', message: 'must be a JSON object' }] },
    });
  }
  const migrated = migrateDocument(file, kind, value as Record<string, unknown>);
  const validate = FILE_KINDS[kind].validate;
  if (!validate(migrated)) {
    const problems = schemaProblems(validate.errors);
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    throw new OrchError('ORCH_SCHEMA_INVALID', `${file}: ${first?.path ?? '/'}: ${first?.message ?? 'invalid'}${more}`, {
      details: { file, problems, schema: FILE_KINDS[kind].schema },
      hint: `see schemas/${FILE_KINDS[kind].schema}, or run \`orch validate ${file}\` for every problem`,
    });
  }
  return migrated as unknown as KindShapes[K];
}

/** Loads one file of `kind`. Every failure is an OrchError naming the file. */
export async function loadDocument<K extends FileKind>(kind: K, path: string, options?: ReadOptions): Promise<Loaded<K>> {
  try {
    const { text, bytes } = await readTextFile(path, options);
    const value = parseJson(path, text);
    const loaded: Loaded<K> = { path, doc: validateDocument(kind, path, value), bytes };
    const implied = impliedVersionOf(kind, value);
    if (implied !== undefined) loaded.impliedVersion = implied;
    return loaded;
  } catch (error) {
    throw toOrchError(path, error); // EACCES, EISDIR on open, EIO…: still an OrchError naming the file
  }
}

/** Like loadDocument, but undefined when the file does not exist. */
export async function loadIfExists<K extends FileKind>(kind: K, path: string, options?: ReadOptions): Promise<Loaded<K> | undefined> {
  try {
    return await loadDocument(kind, path, options);
  } catch (error) {
    if (isOrchError(error) && error.code === 'ORCH_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * The document at `path`, or undefined when it is missing or does not load for any reason: for a
 * caller that has a fallback (the archive's copy of a record, say) and judges what it gets itself.
 */
export async function loadOrUndefined<K extends FileKind>(kind: K, path: string): Promise<KindShapes[K] | undefined> {
  return loadIfExists(kind, path).then(
    loaded => loaded?.doc,
    () => undefined,
  );
}

export interface LoadFailure {
  path: string;
  error: OrchError;
}

export interface LoadAllResult<K extends FileKind> {
  items: Loaded<K>[];
  errors: LoadFailure[];
}

const REJECTED_COPY = /\.rejected-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.json$/;

/**
 * Whether `name` is a JSON document of a state folder: `*.json`, no dotfiles (temp dirs, editor
 * files), and not <id>.rejected-<time>.json (a refused hand edit kept for the person).
 */
export function isDocumentName(name: string): boolean {
  return name.endsWith('.json') && !name.startsWith('.') && !REJECTED_COPY.test(name);
}

/** Names of the JSON documents of a folder (isDocumentName), sorted. */
export async function listJsonFiles(dir: string): Promise<string[]> {
  return fs.readdir(dir).then(documentNames, noneIfMissing);
}

/**
 * listJsonFiles without the thread-pool round trip, for a folder that is nearly always empty and
 * listed on the path of every pass (the inbox): the round trip cost more than the listing.
 */
export function listJsonFilesSync(dir: string): string[] {
  try {
    return documentNames(readdirSync(dir));
  } catch (error) {
    return noneIfMissing(error);
  }
}

function documentNames(names: string[]): string[] {
  return names.filter(isDocumentName).sort();
}

function noneIfMissing(error: unknown): string[] {
  if (errnoCode(error) === 'ENOENT') return [];
  throw error;
}

/** Every `*.json` of `dir` as `kind`: the good ones, and one error per bad file (never thrown). */
export async function loadAll<K extends FileKind>(kind: K, dir: string, options?: ReadOptions): Promise<LoadAllResult<K>> {
  const result: LoadAllResult<K> = { items: [], errors: [] };
  for (const name of await listJsonFiles(dir)) {
    const path = join(dir, name);
    try {
      result.items.push(await loadDocument(kind, path, options));
    } catch (error) {
      result.errors.push({ path, error: toOrchError(path, error) });
    }
  }
  return result;
}

/**
 * A load that failed on the system (EMFILE, EIO, EACCES), not on the file's content: the file may be
 * fine and read the next time. Never a reason to report the file broken for good or to replace it.
 */
export function isReadFault(error: OrchError): boolean {
  return error.code === 'ORCH_INTERNAL' && typeof error.details.errno === 'string';
}

/**
 * Any failure while loading `path`, as an OrchError (system errors become ORCH_INTERNAL with errno).
 * A listed name that "does not exist" because it is not valid UTF-8 (Node shows it with U+FFFD and
 * cannot give it back to open it) says so.
 */
export function toOrchError(path: string, error: unknown): OrchError {
  if (isOrchError(error)) return error.code === 'ORCH_NOT_FOUND' && path.includes('\uFFFD') ? unreadableName(path) : error;
  return new OrchError('ORCH_INTERNAL', `${path}: ${(error as Error).message}`, { cause: error, details: { file: path, errno: errnoCode(error) } });
}

function unreadableName(path: string): OrchError {
  return new OrchError('ORCH_INVALID_UTF8', `${path}: the file name is not valid UTF-8 (shown with \uFFFD), so orch cannot open it`, {
    details: { file: path },
    hint: 'rename it to a UTF-8 name, for example with a shell glob: mv ./bad-*.json ./renamed.json',
  });
}
