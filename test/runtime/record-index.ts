// The record index's file (state/record-index.json): what one run writes, the next reads back as it was;
// anything else (missing, torn, of other schemas) reads as no index at all.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordSummary } from '../../src/generated/types.js';
import { readRecordIndex, writeRecordIndex, type IndexEntry } from '../../src/runtime/record-index.js';
import { loadDocument } from '../../src/store/load.js';

const hash = (c: string): string => c.repeat(64);
const summary = (id: string, specFile = `tasks/${id}.json`): RecordSummary => ({
  summarized: true, id, state: 'DONE', rev: 3, generation: 2, spec_hash: hash('a'), spec_file: specFile, state_since: '2026-01-01T00:00:00.000Z', cost: { usd: 0.25 }, content: hash('b'),
});

t.test('what is written is read back: every entry, its spec file kept only when not the default, any task id', async t => {
  const path = join(t.testdir(), 'record-index.json');
  // 2,500 entries: more than one chunk of the writer.
  const entries: IndexEntry[] = [...Array.from({ length: 2500 }, (_, i) => summary(`T${i}`)), summary('__proto__'), summary('renamed', 'tasks/other-name.json')].map(s => [`${s.id}.json`, `1:2:3.5:${s.id.length}`, s]);
  await writeRecordIndex(path, t.testdir(), 7, entries, Date.parse('2026-01-02T00:00:00Z'));
  t.match((await loadDocument('index', path)).doc, { version: 1, rev: 7, written_at: '2026-01-02T00:00:00.000Z' }, 'a valid document of its schema');
  t.match(JSON.parse(readFileSync(path, 'utf8')).records['renamed.json'], [String, 'DONE', 3, 2, hash('a'), String, 0.25, hash('b'), 'tasks/other-name.json']);
  const read = readRecordIndex(path);
  t.equal(read.rev, 7);
  t.same(read.entries, entries);
});

t.test('a missing, torn or foreign index reads as none', async t => {
  const dir = t.testdir();
  t.same(readRecordIndex(join(dir, 'missing.json')), { rev: 0, entries: [] });
  const path = join(dir, 'record-index.json');
  await writeRecordIndex(path, dir, 2, [['A.json', '1:2:3:4', summary('A')]], 0);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.slice(0, text.length / 2));
  t.same(readRecordIndex(path).entries, [], 'torn');
  writeFileSync(path, text.replace(/"schemas":"[^"]*"/, '"schemas":"another-build"'));
  t.same(readRecordIndex(path), { rev: 2, entries: [] }, 'judged under other schemas: its rev goes on, its entries do not');
});
