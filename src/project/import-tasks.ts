// `orch --tasks PATH` / `orch import PATH` (PRODUCT.md §10): task specs from a folder of JSON files,
// or from one JSON or YAML file holding a list of tasks (a top-level list, or `{tasks: [...]}` as in
// `.orchestrator/tasks.yaml`). Each good item becomes `<tasks>/<id>.json`; every bad one is reported
// with where it is in the source, and the good ones are imported anyway. A spec that already exists
// with other content is never overwritten: specs are the human's.
import { promises as fs } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { OrchError, isOrchError, type OrchErrorCode } from '../errors.js';
import type { SchemaProblem } from '../schema/validators.js';
import { createFileExclusive } from '../store/durable-write.js';
import { listJsonFiles, toOrchError, validateDocument } from '../store/load.js';
import { parseJson } from '../store/parse-json.js';
import { assertSafeId, specPathFor, type StatePaths } from '../store/paths.js';
import { readTextFile } from '../store/read-file.js';
import { loadSpecs } from '../store/specs.js';
import { parse as parseYamlText } from 'yaml';

export interface ImportedSpec {
  id: string;
  /** The spec file in the tasks folder. */
  file: string;
  /** Where it came from: a file, or `file#/tasks/2` for an item of a list. */
  source: string;
}

export interface RefusedItem {
  source: string;
  /** The item's index in a list. */
  index?: number;
  id?: string;
  code: OrchErrorCode;
  message: string;
  /** Each problem with its JSON path in the source file (for a list: from the list's root). */
  problems: { path: string; message: string }[];
}

export interface ImportReport {
  source: string;
  imported: ImportedSpec[];
  /** Already in the tasks folder with the same content. */
  unchanged: ImportedSpec[];
  refused: RefusedItem[];
}

/** One task of the source, before it is checked. */
interface SourceItem {
  source: string;
  /** JSON pointer of the item in its file ('' for a whole file). */
  pointer: string;
  index?: number;
  value: unknown;
  /** The id when the item has no `id` field (a file's name); lists have none. */
  defaultId?: string;
  /** A file's own text, kept as it is (comments in `$comment`, formatting). */
  text?: string;
}

const YAML_EXTENSIONS = ['.yaml', '.yml'];

export async function importTasks(paths: StatePaths, source: string): Promise<ImportReport> {
  const stat = await fs.stat(source).catch(() => undefined);
  if (stat === undefined) throw new OrchError('ORCH_NOT_FOUND', `${source}: no such file or folder`, { details: { file: source } });
  const report: ImportReport = { source, imported: [], unchanged: [], refused: [] };
  const items = stat.isDirectory() ? await folderItems(source, report) : await fileItems(source);

  const ready: { item: SourceItem; id: string }[] = [];
  for (const item of items) {
    try {
      const spec = validateDocument('spec', item.source, item.value);
      const id = spec.id ?? item.defaultId;
      if (id === undefined) {
        throw new OrchError('ORCH_SCHEMA_INVALID', `${item.source}: a task in a list needs an "id"`, { details: { problems: [{ path: '/id', message: 'must have an "id": it names the spec file' }] } });
      }
      ready.push({ item, id: assertSafeId(id, item.source) });
    } catch (error) {
      report.refused.push(refusal(item, toOrchError(item.source, error)));
    }
  }

  // Ids used twice in the source, or by a spec of another name in the tasks folder, are refused.
  const counts = new Map<string, number>();
  for (const { id } of ready) counts.set(id, (counts.get(id) ?? 0) + 1);
  const existing = new Map((await loadSpecs(paths.tasks)).specs.map(s => [s.id, s.path] as const));
  for (const { item, id } of ready) {
    const target = specPathFor(paths, id);
    const other = existing.get(id);
    if ((counts.get(id) ?? 0) > 1) {
      report.refused.push(refusal(item, new OrchError('ORCH_SCHEMA_INVALID', `task id "${id}" is used by more than one task of ${source}`, { details: { problems: [{ path: '/id', message: `duplicate task id "${id}"` }] } }), id));
    } else if (other !== undefined && other !== target) {
      report.refused.push(refusal(item, new OrchError('ORCH_SPEC_EXISTS', `task id "${id}" is already used by ${other}`, { details: { file: other } }), id));
    } else {
      await write(item, id, target, report);
    }
  }
  return report;
}

async function write(item: SourceItem, id: string, target: string, report: ImportReport): Promise<void> {
  const text = item.text ?? `${JSON.stringify(item.value, null, 2)}\n`;
  const entry = { id, file: target, source: item.source };
  if (await createFileExclusive(target, text)) {
    report.imported.push(entry);
    return;
  }
  let current: unknown;
  try {
    current = parseJson(target, (await readTextFile(target)).text);
  } catch {
    current = undefined;
  }
  if (current !== undefined && sameSpec(current, item.value, id)) {
    report.unchanged.push(entry);
    return;
  }
  report.refused.push(refusal(item, new OrchError('ORCH_SPEC_EXISTS', `${target} already exists with other content: not overwritten`, { details: { file: target } }), id));
}

/** Equal as specs: an `id` field that only repeats the file's name makes no difference. */
function sameSpec(a: unknown, b: unknown, id: string): boolean {
  const strip = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const { id: own, ...rest } = value as Record<string, unknown>;
    return own === id ? rest : value;
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

function refusal(item: SourceItem, error: OrchError, id?: string): RefusedItem {
  const problems = ((error.details.problems as SchemaProblem[] | undefined) ?? []).map(p => ({ path: `${item.pointer}${p.path === '/' ? '' : p.path}` || '/', message: p.message }));
  const where = item.index === undefined ? '' : `item ${item.index}: `;
  const message = problems.length > 0 ? `${where}${problems.map(p => `${p.path}: ${p.message}`).join('; ')}` : `${where}${error.message}`;
  return {
    source: item.source,
    ...(item.index !== undefined && { index: item.index }),
    ...(id !== undefined && { id }),
    code: error.code,
    message,
    problems,
  };
}

/** Every `*.json` of a folder is one spec (its id: the `id` field, else the file name). */
async function folderItems(dir: string, report: ImportReport): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for (const name of await listJsonFiles(dir)) {
    const file = join(dir, name);
    try {
      const { text } = await readTextFile(file);
      items.push({ source: file, pointer: '', value: parseJson(file, text), defaultId: basename(name, '.json'), text });
    } catch (error) {
      const item: SourceItem = { source: file, pointer: '', value: undefined };
      report.refused.push(refusal(item, toOrchError(file, error)));
    }
  }
  return items;
}

/** A list (top level, or under `tasks`), or one spec. A file that cannot be parsed fails as a whole. */
async function fileItems(file: string): Promise<SourceItem[]> {
  const { text } = await readTextFile(file);
  const yaml = YAML_EXTENSIONS.includes(extname(file).toLowerCase());
  const value = yaml ? await parseYaml(file, text) : parseJson(file, text);
  const listAt = (list: unknown[], prefix: string): SourceItem[] =>
    list.map((entry, index) => ({ source: `${file}#${prefix}/${index}`, pointer: `${prefix}/${index}`, index, value: entry }));
  if (Array.isArray(value)) return listAt(value, '');
  if (value !== null && typeof value === 'object' && 'tasks' in value) {
    const tasks = (value as { tasks: unknown }).tasks;
    if (!Array.isArray(tasks)) {
      throw new OrchError('ORCH_SCHEMA_INVALID', `${file}: /tasks must be a list of tasks`, { details: { file, problems: [{ path: '/tasks', message: 'must be a list' }] } });
    }
    return listAt(tasks, '/tasks');
  }
  if (value !== null && typeof value === 'object') {
    return [{ source: file, pointer: '', value, defaultId: basename(file, extname(file)), ...(!yaml && { text }) }];
  }
  throw new OrchError('ORCH_SCHEMA_INVALID', `${file}: must be a list of tasks, {"tasks": [...]}, or one task`, { details: { file } });
}

/** YAML through the `yaml` package (bundled into the chunk of the import command, loaded only by it). */
async function parseYaml(file: string, text: string): Promise<unknown> {
  try {
    return parseYamlText(text, { prettyErrors: true });
  } catch (error) {
    if (isOrchError(error)) throw error;
    const pos = (error as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = pos === undefined ? file : `${file}:${pos.line}:${pos.col}`;
    throw new OrchError('ORCH_INVALID_YAML', `${where}: ${((error as Error).message.split('\n')[0] ?? '').trim()}`, {
      cause: error,
      details: { file, ...(pos !== undefined && { line: pos.line, column: pos.col }) },
    });
  }
}
