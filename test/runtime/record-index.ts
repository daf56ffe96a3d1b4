// The record index's file (state/record-index.json): what one run writes, the next reads back as it was;
// anything else (missing, torn, of other schemas) reads as no index at all.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordSummary } from '../../src/generated/types.js';
import { readRecordIndex, writeRecordIndex, type RecordEntry, type SpecEntry } from '../../src/runtime/record-index.js';
import type { SpecSummary } from '../../src/runtime/spec-summary.js';
import { loadDocument } from '../../src/store/load.js';

const hash = (c: string): string => c.repeat(64);
const summary = (id: string, specFile = `tasks/${id}.json`): RecordSummary => ({
  summarized: true, id, state: 'DONE', rev: 3, generation: 2, spec_hash: hash('a'), spec_file: specFile, state_since: '2026-01-01T00:00:00.000Z', cost: { usd: 0.25 }, content: hash('b'),
});
const specSummary = (name: string, id: string, dependsOn?: string[]): SpecSummary => ({
  summarized: true, id, name, hash: hash('c'), ...(dependsOn !== undefined && { depends_on: dependsOn }),
});

t.test('what is written is read back: every entry, its spec file kept only when not the default, any task id', async t => {
  const path = join(t.testdir(), 'record-index.json');
  // 2,500 entries of each: more than one chunk of the writer.
  const records: RecordEntry[] = [...Array.from({ length: 2500 }, (_, i) => summary(`T${i}`)), summary('__proto__'), summary('renamed', 'tasks/other-name.json')].map(s => [`${s.id}.json`, `1:2:3.5:${s.id.length}`, s]);
  const specs: SpecEntry[] = [
    ...Array.from({ length: 2500 }, (_, i) => specSummary(`T${i}.json`, `T${i}`)),
    specSummary('__proto__.json', '__proto__', ['T1', 'T2']),
    specSummary('other-name.json', 'renamed'),
  ].map(s => [s.name, `4:5:6.5:${s.id.length}`, s]);
  await writeRecordIndex(path, t.testdir(), 7, { records, specs }, Date.parse('2026-01-02T00:00:00Z'));
  const doc = (await loadDocument('index', path)).doc;
  t.match(doc, { version: 1, rev: 7, written_at: '2026-01-02T00:00:00.000Z' }, 'a valid document of its schema');
  t.match(doc.records['renamed.json'], [String, 'DONE', 3, 2, hash('a'), String, 0.25, hash('b'), 'tasks/other-name.json']);
  t.same(doc.specs?.['other-name.json'], ['4:5:6.5:7', 'renamed', hash('c'), null], "a spec's id kept only when not its file's name");
  t.same(doc.specs?.['T0.json'], ['4:5:6.5:2', null, hash('c'), null]);
  t.same(doc.specs?.['__proto__.json']?.[3], ['T1', 'T2']);
  const read = readRecordIndex(path);
  t.equal(read.rev, 7);
  t.same(read.records, records);
  t.same(read.specs, specs);
});

t.test('an index with no entries, and one with no specs, read back as such', async t => {
  const dir = t.testdir();
  const path = join(dir, 'record-index.json');
  await writeRecordIndex(path, dir, 1, { records: [], specs: [] }, 0);
  t.same(readRecordIndex(path), { rev: 1, records: [], specs: [] });
  await writeRecordIndex(path, dir, 2, { records: [['A.json', '1:2:3:4', summary('A')]], specs: [] }, 0);
  t.same(readRecordIndex(path).records, [['A.json', '1:2:3:4', summary('A')]]);
});

t.test('a missing, torn or foreign index reads as none', async t => {
  const dir = t.testdir();
  t.same(readRecordIndex(join(dir, 'missing.json')), { rev: 0, records: [], specs: [] });
  const path = join(dir, 'record-index.json');
  await writeRecordIndex(path, dir, 2, { records: [['A.json', '1:2:3:4', summary('A')]], specs: [['A.json', '1:2:3:5', specSummary('A.json', 'A')]] }, 0);
  const text = readFileSync(path, 'utf8');
  for (const cut of [text.length / 2, text.length - 4]) {
    writeFileSync(path, text.slice(0, cut));
    t.same(readRecordIndex(path), { rev: 2, records: [], specs: [] }, `torn at ${cut} of ${text.length} bytes`);
  }
  writeFileSync(path, text.replace('"A.json":["1:2:3:5",null', '"A.json":["1:2:3:5","../escape"'));
  t.same(readRecordIndex(path).specs, [], 'an entry its schema refuses (an unsafe id): none');
  writeFileSync(path, text.replace(/"schemas":"[^"]*"/, '"schemas":"another-build"'));
  t.same(readRecordIndex(path), { rev: 2, records: [], specs: [] }, 'judged under other schemas: its rev goes on, its entries do not');
});
