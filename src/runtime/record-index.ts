// The record index, state/record-index.json (issue 16): the summaries of finished records
// (record-summary.ts) kept between runs, keyed by their file's stat signature, as git's index and
// `orch status`'s cache (src/project/status-cache.ts) are. A start then reads a finished task's record
// only when its file changed since the last run: at 100,000 finished tasks, 100,000 lstats instead of
// 100,000 reads, parses, validations and seal checks.
//
// A cache, never a source of truth: an entry is used only while its file's signature is the one it was
// made from (a hand edit changes it, and the record is then read and judged as any other), entries
// are made only from reads the racy rule trusts or from the engine's own writes (cached-folder.ts), and
// an index that is missing, unreadable, invalid, of another version or made under other schemas is
// ignored and written again. Failing to write it costs the next start its speed, nothing else.
import { SCHEMA_SET } from '../generated/schema-set.js';
import type { IndexedRecord, RecordIndex, RecordSummary } from '../generated/types.js';
import { CURRENT_VERSION, schemaRef } from '../schema/validators.js';
import { writeFileDurable } from '../store/durable-write.js';
import { validateDocument } from '../store/load.js';
import { readBytesSync } from '../store/read-file.js';

/** 100,000 finished tasks make about 25 MB. */
const MAX_INDEX_BYTES = 512 * 1024 * 1024;
/** Entries per chunk written: the index is never held whole as one string. */
const ENTRIES_PER_CHUNK = 1000;
/** The layout writeRecordIndex gives the file, which readRecordIndex reads: the head's line ends with the first, the last line is the second, and each entry has a line between. */
const RECORDS_OPEN = '"records":{';
const RECORDS_CLOSE = '}}';

/** A record file's name, its signature, and the summary made of it. */
export type IndexEntry = readonly [name: string, sig: string, summary: RecordSummary];

const RECORD_SUFFIX = '.json';

/** The spec_file of a task whose spec is the file named after its id: left out of the index (null). */
function defaultSpecFile(id: string): string {
  return `tasks/${id}.json`;
}

function entryOf(name: string, row: IndexedRecord): IndexEntry | undefined {
  if (row === undefined || !name.endsWith(RECORD_SUFFIX)) return undefined;
  const id = name.slice(0, -RECORD_SUFFIX.length);
  const [sig, state, rev, generation, spec_hash, state_since, usd, content, specFile] = row;
  const summary: RecordSummary = { summarized: true, id, state, rev, generation, spec_hash, spec_file: specFile ?? defaultSpecFile(id), state_since, cost: { usd }, content };
  return [name, sig, summary];
}

function rowOf(sig: string, s: RecordSummary): IndexedRecord {
  return [sig, s.state, s.rev, s.generation, s.spec_hash, s.state_since, s.cost.usd, s.content, s.spec_file === defaultSpecFile(s.id) ? null : s.spec_file];
}

/**
 * The index the last run left at `path` (its rev, for the next), or none when there is none or it is
 * not usable. Read an entry a line at a time, as writeRecordIndex lays it out: parsing the whole
 * document at once held every entry twice (as parsed, and as summaries) and took the start's memory
 * 150 MiB up at 100,000 tasks. A file laid out otherwise (reformatted by hand) is not used: it is a cache.
 */
export function readRecordIndex(path: string): { rev: number; entries: IndexEntry[] } {
  let rev = 0;
  try {
    const { bytes } = readBytesSync(path, { maxBytes: MAX_INDEX_BYTES });
    const lines = linesOf(bytes);
    const first = lines.next();
    if (first.done === true || !first.value.endsWith(RECORDS_OPEN)) return { rev, entries: [] };
    // The head alone, closed, is a valid index with no entries; each entry is checked as one such index holding it.
    const head = validateDocument('index', path, JSON.parse(`${first.value}}}`));
    rev = head.rev;
    // Judged under other schemas (another build of orch): what was valid then may not be now.
    if (head.schemas !== SCHEMA_SET) return { rev, entries: [] };
    const entries: IndexEntry[] = [];
    for (const line of lines) {
      if (line === RECORDS_CLOSE) return { rev, entries };
      const one = validateDocument('index', path, { ...head, records: JSON.parse(`{${line.endsWith(',') ? line.slice(0, -1) : line}}`) as unknown });
      for (const [name, row] of Object.entries(one.records)) {
        const entry = entryOf(name, row);
        if (entry !== undefined) entries.push(entry);
      }
    }
    return { rev, entries: [] }; // torn: its end is missing
  } catch {
    return { rev, entries: [] }; // missing, broken, newer, unreadable: rebuilt from the records
  }
}

function* linesOf(bytes: Buffer): Generator<string> {
  for (let at = 0; at < bytes.length; ) {
    const end = bytes.indexOf(0x0a, at);
    const stop = end === -1 ? bytes.length : end;
    yield bytes.toString('utf8', at, stop);
    at = stop + 1;
  }
}

/** Writes the index of `entries` at `path`, as rev `rev`. Throws what the write throws. */
export async function writeRecordIndex(path: string, stateDir: string, rev: number, entries: readonly IndexEntry[], now: number): Promise<void> {
  const head: Omit<RecordIndex, 'records'> = {
    $schema: schemaRef('index', path, stateDir),
    version: CURRENT_VERSION.index,
    rev,
    schemas: SCHEMA_SET,
    written_at: new Date(now).toISOString(),
  };
  function* chunks(): Generator<string> {
    yield `${JSON.stringify(head).slice(0, -1)},${RECORDS_OPEN}`;
    for (let at = 0; at < entries.length; at += ENTRIES_PER_CHUNK) {
      const lines = entries.slice(at, at + ENTRIES_PER_CHUNK).map(([name, sig, summary]) => `${JSON.stringify(name)}:${JSON.stringify(rowOf(sig, summary))}`);
      yield `${at === 0 ? '' : ','}\n${lines.join(',\n')}`;
    }
    yield `\n${RECORDS_CLOSE}\n`;
  }
  await writeFileDurable(path, chunks());
}
