// The record index, state/record-index.json (issue 16): the summaries of finished records
// (record-summary.ts) kept between runs, keyed by their file's stat signature, as git's index and
// `orch status`'s cache (src/project/status-cache.ts) are. A start then reads a finished task's record
// only when its file changed since the last run: at 100,000 finished tasks, 100,000 lstats instead of
// 100,000 reads, parses, validations and seal checks.
//
// The same for specs (spec-summary.ts): a spec whose file is unchanged is not read at start either.
//
// A cache, never a source of truth: an entry is used only while its file's signature is the one it was
// made from (a hand edit changes it, and the record is then read and judged as any other), entries
// are made only from reads the racy rule trusts or from the engine's own writes (cached-folder.ts), and
// an index that is missing, unreadable, invalid, of another version or made under other schemas is
// ignored and written again. Failing to write it costs the next start its speed, nothing else.
import { SCHEMA_SET } from '../generated/schema-set.js';
import type { IndexedRecord, IndexedSpec, RecordIndex, RecordSummary } from '../generated/types.js';
import { CURRENT_VERSION, schemaRef } from '../schema/validators.js';
import { writeFileDurable } from '../store/durable-write.js';
import { validateDocument } from '../store/load.js';
import { readLinesSync } from '../store/read-file.js';
import type { SpecSummary } from './spec-summary.js';

/** 100,000 finished tasks make about 35 MB. */
const MAX_INDEX_BYTES = 512 * 1024 * 1024;
/** Entries per chunk written (the index is never held whole as one string), and per batch read. */
const ENTRIES_PER_CHUNK = 1000;
/**
 * The layout writeRecordIndex gives the file, which readRecordIndex reads: the head's line ends with
 * RECORDS_OPEN, a line of its own is SPECS_OPEN, the last line is CLOSE, and each entry has a line between.
 */
const RECORDS_OPEN = '"records":{';
const SPECS_OPEN = '},"specs":{';
const CLOSE = '}}';

/** A file's name, its signature, and the summary made of it. */
export type RecordEntry = readonly [name: string, sig: string, summary: RecordSummary];
export type SpecEntry = readonly [name: string, sig: string, summary: SpecSummary];

export interface IndexContent {
  records: readonly RecordEntry[];
  specs: readonly SpecEntry[];
}

const JSON_SUFFIX = '.json';

/** The id a file named `name` gives its task when it names none: a record's always, a spec's unless its `id` field says otherwise. */
function idOfName(name: string): string | undefined {
  return name.endsWith(JSON_SUFFIX) ? name.slice(0, -JSON_SUFFIX.length) : undefined;
}

/** The spec_file of a task whose spec is the file named after its id: left out of the index (null). */
function defaultSpecFile(id: string): string {
  return `tasks/${id}.json`;
}

function recordEntryOf(name: string, row: IndexedRecord): RecordEntry | undefined {
  const id = idOfName(name);
  if (row === undefined || id === undefined) return undefined;
  const [sig, state, rev, generation, spec_hash, state_since, usd, content, specFile] = row;
  const summary: RecordSummary = { summarized: true, id, state, rev, generation, spec_hash, spec_file: specFile ?? defaultSpecFile(id), state_since, cost: { usd }, content };
  return [name, sig, summary];
}

function recordRowOf(sig: string, s: RecordSummary): IndexedRecord {
  return [sig, s.state, s.rev, s.generation, s.spec_hash, s.state_since, s.cost.usd, s.content, s.spec_file === defaultSpecFile(s.id) ? null : s.spec_file];
}

function specEntryOf(name: string, row: IndexedSpec): SpecEntry | undefined {
  const nameId = idOfName(name);
  if (row === undefined || nameId === undefined) return undefined;
  const [sig, id, hash, dependsOn] = row;
  const summary: SpecSummary = { summarized: true, id: id ?? nameId, name, hash, ...(dependsOn !== null && { depends_on: dependsOn }) };
  return [name, sig, summary];
}

function specRowOf(name: string, sig: string, s: SpecSummary): IndexedSpec {
  return [sig, s.id === idOfName(name) ? null : s.id, s.hash, s.depends_on === undefined || s.depends_on.length === 0 ? null : s.depends_on];
}

const NOTHING: IndexContent = { records: [], specs: [] };

/**
 * The index the last run left at `path` (its rev, for the next), or none when there is none or it is
 * not usable. Read a chunk of the file and a batch of entries at a time, as writeRecordIndex lays them
 * out (a line each): parsing the whole document at once held every entry twice (as parsed, and as
 * summaries) and took the start's memory 150 MiB up at 100,000 tasks, and the file's bytes whole
 * another 40. A file laid out otherwise (reformatted by hand) is not used: it is a cache.
 */
export function readRecordIndex(path: string): { rev: number } & IndexContent {
  let rev = 0;
  let lines: Generator<string> | undefined;
  try {
    lines = readLinesSync(path, { maxBytes: MAX_INDEX_BYTES });
    const first = lines.next();
    if (first.done === true || !first.value.endsWith(RECORDS_OPEN)) return { rev, ...NOTHING };
    // The head alone, closed, is a valid index with no entries; each entry is checked as one such index holding it.
    const head = validateDocument('index', path, JSON.parse(`${first.value}${CLOSE}`));
    rev = head.rev;
    // Judged under other schemas (another build of orch): what was valid then may not be now.
    if (head.schemas !== SCHEMA_SET) return { rev, ...NOTHING };
    const records: RecordEntry[] = [];
    const specs: SpecEntry[] = [];
    let inSpecs = false;
    let batch: string[] = [];
    // The entries of a batch of lines, parsed and checked as one index holding just them: per line,
    // the head's checks and the calls cost 0.6 s of a 100,000-task start.
    const take = (): void => {
      if (batch.length === 0) return;
      const last = batch.length - 1;
      batch[last] = (batch[last] as string).replace(/,$/, '');
      const some = JSON.parse(`{${batch.join('')}}`) as unknown;
      batch = [];
      const checked = validateDocument('index', path, inSpecs ? { ...head, records: {}, specs: some } : { ...head, records: some });
      for (const [name, row] of Object.entries(checked.records)) {
        const entry = recordEntryOf(name, row);
        if (entry !== undefined) records.push(entry);
      }
      for (const [name, row] of Object.entries(checked.specs ?? {})) {
        const entry = specEntryOf(name, row);
        if (entry !== undefined) specs.push(entry);
      }
    };
    for (const line of lines) {
      if (line === CLOSE || (line === SPECS_OPEN && !inSpecs)) {
        take();
        if (line === CLOSE) return { rev, records, specs };
        inSpecs = true;
        continue;
      }
      batch.push(line);
      if (batch.length === ENTRIES_PER_CHUNK) take();
    }
    return { rev, ...NOTHING }; // torn: its end is missing
  } catch {
    return { rev, ...NOTHING }; // missing, broken, newer, unreadable: rebuilt from the files
  } finally {
    lines?.return(undefined); // closes the file when the read stopped early
  }
}

/** The lines of one section's entries, a chunk of them at a time, each chunk starting a line. */
function* sectionLines<E extends readonly [string, string, unknown]>(entries: readonly E[], line: (entry: E) => string): Generator<string> {
  for (let at = 0; at < entries.length; at += ENTRIES_PER_CHUNK) {
    yield `${at === 0 ? '' : ','}\n${entries.slice(at, at + ENTRIES_PER_CHUNK).map(line).join(',\n')}`;
  }
}

/** Writes the index of `content` at `path`, as rev `rev`. Throws what the write throws. */
export async function writeRecordIndex(path: string, stateDir: string, rev: number, content: IndexContent, now: number): Promise<void> {
  const head: Omit<RecordIndex, 'records'> = {
    $schema: schemaRef('index', path, stateDir),
    version: CURRENT_VERSION.index,
    rev,
    schemas: SCHEMA_SET,
    written_at: new Date(now).toISOString(),
  };
  function* chunks(): Generator<string> {
    yield `${JSON.stringify(head).slice(0, -1)},${RECORDS_OPEN}`;
    yield* sectionLines(content.records, ([name, sig, summary]) => `${JSON.stringify(name)}:${JSON.stringify(recordRowOf(sig, summary))}`);
    yield `\n${SPECS_OPEN}`;
    yield* sectionLines(content.specs, ([name, sig, summary]) => `${JSON.stringify(name)}:${JSON.stringify(specRowOf(name, sig, summary))}`);
    yield `\n${CLOSE}\n`;
  }
  await writeFileDurable(path, chunks());
}
