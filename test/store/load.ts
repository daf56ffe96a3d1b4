import t from 'tap';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { WorkerRecord } from '../../src/generated/types.js';
import { listJsonFiles, loadAll, loadDocument, loadIfExists, validateDocument } from '../../src/store/load.js';

function worker(name: string, extra: Partial<WorkerRecord> = {}): string {
  const doc: WorkerRecord = { version: 1, rev: 1, epoch: 0, name, status: 'idle', updated_at: '2025-12-10T10:30:00.000Z', ...extra };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

t.test('a valid document loads with its path, parsed value and exact bytes', async t => {
  const dir = t.testdir({ 'w1.json': worker('w1') });
  const loaded = await loadDocument('worker', join(dir, 'w1.json'));
  t.equal(loaded.path, join(dir, 'w1.json'));
  t.match(loaded.doc, { name: 'w1', status: 'idle', version: 1 });
  t.equal(loaded.bytes.toString(), worker('w1'));
});

t.test('a document of version 99 is refused naming both versions, and its bytes are untouched', async t => {
  const dir = t.testdir({ 'w1.json': worker('w1', { version: 99, status: 'from-the-future' as WorkerRecord['status'] }) });
  const file = join(dir, 'w1.json');
  const before = await fs.readFile(file);
  const mtime = (await fs.stat(file)).mtimeMs;
  const error = await loadDocument('worker', file).catch((caught: unknown) => caught);
  t.match(error, { code: 'ORCH_VERSION_NEWER', details: { file, found: 99, supported: 1 } });
  t.match((error as Error).message, /version 99/);
  t.match((error as Error).message, /version 1\b/);
  t.same(await fs.readFile(file), before);
  t.equal((await fs.stat(file)).mtimeMs, mtime);
});

t.test('a schema-invalid document is ORCH_SCHEMA_INVALID with every problem', async t => {
  const dir = t.testdir({ 'w1.json': JSON.stringify({ version: 1, rev: 0, name: 'w1', status: 'napping', extra: 1 }) });
  const error = await loadDocument('worker', join(dir, 'w1.json')).catch((caught: unknown) => caught);
  t.match(error, { code: 'ORCH_SCHEMA_INVALID', details: { file: join(dir, 'w1.json'), schema: 'worker.schema.json' } });
  const problems = (error as { details: { problems: { path: string; message: string }[] } }).details.problems;
  t.ok(problems.length >= 4, 'rev, epoch, status, extra, updated_at are all named');
  t.ok(problems.some(p => p.message === 'unknown field "extra"'));
  t.ok(problems.some(p => p.message === 'missing field "epoch"'));
});

t.test('validateDocument refuses what is not a JSON object', async t => {
  for (const value of [null, [], 'text', 3]) {
    t.throws(() => validateDocument('worker', 'f.json', value), { code: 'ORCH_SCHEMA_INVALID', details: { file: 'f.json' } }, JSON.stringify(value));
  }
});

t.test('loadIfExists is undefined for a missing file and throws for a bad one', async t => {
  const dir = t.testdir({ 'bad.json': '{' });
  t.equal(await loadIfExists('worker', join(dir, 'none.json')), undefined);
  await t.rejects(loadIfExists('worker', join(dir, 'bad.json')), { code: 'ORCH_INVALID_JSON' });
});

t.test('a symlink, FIFO, directory or hard link is refused promptly by loadDocument', async t => {
  const dir = t.testdir({ state: { 'dir.json': {} }, outside: { 'w.json': worker('w') } });
  const state = join(dir, 'state');
  const outsideFile = join(dir, 'outside', 'w.json');
  await fs.symlink(outsideFile, join(state, 'link.json'));
  await fs.link(outsideFile, join(state, 'hard.json'));
  t.equal(spawnSync('mkfifo', [join(state, 'fifo.json')]).status, 0, 'mkfifo');
  for (const name of ['link.json', 'hard.json', 'fifo.json', 'dir.json']) {
    const stop = new AbortController();
    const blocked = delay(10_000, undefined, { signal: stop.signal }).then(() => new Error(`loading ${name} blocked for 10 s`));
    await t.rejects(Promise.race([loadDocument('worker', join(state, name)), blocked]), { code: 'ORCH_NOT_REGULAR_FILE' }, name);
    stop.abort();
    await blocked.catch(() => undefined);
  }
  t.equal(await fs.readFile(outsideFile, 'utf8'), worker('w'));
});

t.test('a system error while loading is still an OrchError naming the file, with its errno', async t => {
  const dir = t.testdir();
  await fs.symlink('loop', join(dir, 'loop'));
  const file = join(dir, 'loop', 'w.json');
  await t.rejects(loadDocument('worker', file), { code: 'ORCH_INTERNAL', details: { file, errno: 'ELOOP' } });
});

t.test('loadAll returns every good document and exactly one error per bad file, ignoring dotfiles and other names', async t => {
  const dir = t.testdir({
    'a.json': worker('a'),
    'b.json': worker('b'),
    'bad-json.json': '{"version": 1,,}',
    'invalid.json': JSON.stringify({ version: 1, name: 'x' }),
    'future.json': worker('future', { version: 2 }),
    '.hidden.json': '{ not json',
    'notes.txt': 'not a document',
    'a.json.bak': '{',
    '.orch-tmp': { 'a.json.1-2.3.tmp': '{' },
    outside: { 'o.json': worker('o') },
  });
  await fs.symlink(join(dir, 'outside', 'o.json'), join(dir, 'link.json'));
  const result = await loadAll('worker', dir);
  t.same(result.items.map(item => item.doc.name), ['a', 'b']);
  t.same(result.items.map(item => item.path), [join(dir, 'a.json'), join(dir, 'b.json')]);
  t.same(
    result.errors.map(({ path, error }) => [path, error.code]),
    [
      [join(dir, 'bad-json.json'), 'ORCH_INVALID_JSON'],
      [join(dir, 'future.json'), 'ORCH_VERSION_NEWER'],
      [join(dir, 'invalid.json'), 'ORCH_SCHEMA_INVALID'],
      [join(dir, 'link.json'), 'ORCH_NOT_REGULAR_FILE'],
    ],
  );
  for (const { path, error } of result.errors) t.equal(error.details.file, path, `${path}: the error names the file`);
});

t.test('loadAll of a missing dir is empty, and listJsonFiles is sorted', async t => {
  const dir = t.testdir({ 'z.json': '', 'm.json': '', '.x.json': '', 'y.JSON': '' });
  t.same(await loadAll('worker', join(dir, 'none')), { items: [], errors: [] });
  t.same(await listJsonFiles(dir), ['m.json', 'z.json']);
});
