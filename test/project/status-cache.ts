// status-cache.json: `orch status` reads a file again only when its signature changed, shows rows
// from the files themselves, and treats the cache as disposable. Real files; the racy-file clock is
// moved on (a file counts as settled 2 s after its last change) instead of waited for.
import t, { type Test } from 'tap';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectStatus } from '../../src/project/status.js';
import { validateProject } from '../../src/project/validate.js';
import { validateDocument } from '../../src/store/load.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { clearFaults, injectFault } from '../../src/testing/faults.js';
import { makeRecord, T0, writeRecords } from '../fixtures/read-records.js';

/** A clock far enough ahead that every file written so far has settled. */
const later = (): number => Date.now() + 60_000;

function project(t: Test, records = [makeRecord('A', { state: 'DONE' }), makeRecord('B', { state: 'FAILED' }), makeRecord('C')]): StatePaths {
  const root = t.testdir({ '.isollm': { 'config.json': JSON.stringify({ version: 1, project: 'cache-test' }), tasks: {}, inbox: {}, state: {} } });
  const paths = statePaths(root);
  for (const record of records) writeFileSync(join(paths.tasks, `${record.id}.json`), JSON.stringify({ goal: `do ${record.id}` }));
  writeRecords(paths.stateDir, records);
  return paths;
}

function readCache(paths: StatePaths): ReturnType<typeof validateDocument<'cache'>> {
  const path = paths.statusCache;
  return validateDocument('cache', path, JSON.parse(readFileSync(path, 'utf8')));
}

const summary = (report: Awaited<ReturnType<typeof collectStatus>>): string[] => report.tasks.map(row => `${row.id}:${row.state}`);

t.test('a second status stats the unchanged files and reads none of them but the rows it shows', async t => {
  const paths = project(t);
  const first = await collectStatus(paths, { clock: later });
  t.same(summary(first), ['C:NEW', 'B:FAILED', 'A:DONE']);
  const cache = readCache(paths);
  t.same(Object.keys(cache.records).sort(), ['A', 'B', 'C'], 'every settled record is cached, by id');
  t.same(Object.keys(cache.specs).sort(), ['A.json', 'B.json', 'C.json']);
  t.same(Object.keys(cache.valid), ['config.json']);
  t.match(cache.records.B, { state: 'FAILED', activity: 'failed' });

  t.teardown(clearFaults);
  // Any read of a spec, a record or the config now fails: a read would show as an invalid file.
  injectFault('read.open', { path: /\/(tasks|state\/tasks)\/[^/]+\.json$|config\.json$/, times: 1_000 });
  const counted = await collectStatus(paths, { clock: later, limit: 0 });
  t.same(counted.invalid, [], 'nothing was read');
  t.match(counted.counts, { NEW: 1, FAILED: 1, DONE: 1 });
  t.equal(counted.tasks_total, 3);
  t.same(counted.tasks, [], 'no row asked for, none built');
  clearFaults();
  const rev = readCache(paths).rev;
  await collectStatus(paths, { clock: later });
  t.equal(readCache(paths).rev, rev, 'an unchanged cache is not written again');
});

t.test('a changed, a removed and a new record are seen at once; rows come from the files', async t => {
  const paths = project(t);
  await collectStatus(paths, { clock: later });
  writeRecords(paths.stateDir, [makeRecord('C', { state: 'DONE' }), makeRecord('D', { state: 'CANCELLED' })]);
  rmSync(join(paths.records, 'B.json'));
  rmSync(join(paths.tasks, 'B.json'));
  const report = await collectStatus(paths, { clock: later });
  t.same(summary(report), ['D:CANCELLED', 'A:DONE', 'C:DONE']);
  t.same(Object.keys(readCache(paths).records).sort(), ['A', 'C', 'D']);
  t.match(readCache(paths).records.C, { state: 'DONE' });

  // A record that turns invalid after it was cached is reported, not shown from the cache (its
  // spec is listed as not taken up, as with any record that does not load).
  writeFileSync(join(paths.records, 'A.json'), '{"version": 1}');
  const broken = await collectStatus(paths, { clock: later });
  t.same(summary(broken), ['A:NEW', 'D:CANCELLED', 'C:DONE']);
  t.same(broken.invalid.map(f => `${f.path} ${f.code}`), ['.isollm/state/tasks/A.json ORCH_SCHEMA_INVALID']);
  t.notOk(Object.hasOwn(readCache(paths).records, 'A'));
});

t.test('a file changed within the last 2 s is not cached: a same-size rewrite in that tick would not show', async t => {
  const paths = project(t);
  await collectStatus(paths); // the real clock: every file was written just now
  t.throws(() => readFileSync(paths.statusCache), { code: 'ENOENT' }, 'nothing settled, nothing to keep');
  await collectStatus(paths, { clock: later });
  t.same(Object.keys(readCache(paths).records).sort(), ['A', 'B', 'C']);
});

t.test('a broken, foreign or unwritable cache costs speed, never a wrong answer', async t => {
  const paths = project(t);
  for (const content of ['{ not json', JSON.stringify({ version: 99, rev: 1 }), JSON.stringify({ version: 1, rev: 1, written_at: 'x', records: { A: { sig: 'x', state: 'NOPE' } }, specs: {}, valid: {} })]) {
    writeFileSync(paths.statusCache, content);
    t.same(summary(await collectStatus(paths, { clock: later })), ['C:NEW', 'B:FAILED', 'A:DONE'], content.slice(0, 20));
    t.same(Object.keys(readCache(paths).records).sort(), ['A', 'B', 'C'], 'rebuilt');
  }
  // Judged under other schemas (another build of orch): not trusted, though its signatures match.
  const foreign = readCache(paths);
  writeFileSync(paths.statusCache, JSON.stringify({ ...foreign, schemas: '0000000000000000', records: { ...foreign.records, A: { ...foreign.records.A, state: 'FAILED', activity: 'failed' } } }));
  const rebuilt = await collectStatus(paths, { clock: later });
  t.same(summary(rebuilt), ['C:NEW', 'B:FAILED', 'A:DONE'], 'other schemas: rebuilt');
  t.match(rebuilt.counts, { DONE: 1, FAILED: 1, NEW: 1 });
  t.match(readCache(paths).records.A, { state: 'DONE' });
  // A cache entry that lies (a hand edit) but names another signature is not used.
  const lying = readCache(paths);
  writeFileSync(paths.statusCache, JSON.stringify({ ...lying, records: { ...lying.records, A: { sig: '1:2:3:4', state: 'FAILED', activity: 'failed' } } }));
  t.same(summary(await collectStatus(paths, { clock: later })), ['C:NEW', 'B:FAILED', 'A:DONE']);

  rmSync(paths.statusCache);
  mkdirSync(paths.statusCache); // the cache cannot be written
  const report = await collectStatus(paths, { clock: later });
  t.same(summary(report), ['C:NEW', 'B:FAILED', 'A:DONE']);
  t.same(report.invalid, []);
});

t.test('status writes no cache into a state dir that does not exist, and works for tasks named like Object.prototype', async t => {
  const root = t.testdir({ '.isollm': { tasks: { 'x.json': JSON.stringify({ goal: 'x' }) } } });
  const paths = statePaths(root);
  t.same(summary(await collectStatus(paths, { clock: later })), ['x:NEW']);
  t.throws(() => readFileSync(paths.statusCache), { code: 'ENOENT' });

  const odd = project(t, [makeRecord('constructor', { state: 'DONE' }), makeRecord('__proto__', { state: 'FAILED' }), makeRecord('toString')]);
  await collectStatus(odd, { clock: later });
  t.same(Object.keys(readCache(odd).records).sort(), ['__proto__', 'constructor', 'toString']);
  t.same(summary(await collectStatus(odd, { clock: later })), ['toString:NEW', '__proto__:FAILED', 'constructor:DONE']);
});

t.test('a page of rows reads only its own records', async t => {
  const paths = project(t, ['A', 'B', 'C', 'D'].map(id => makeRecord(id, { state: 'DONE' })));
  await collectStatus(paths, { clock: later });
  t.teardown(clearFaults);
  injectFault('read.open', { path: /state\/tasks\/(A|D)\.json$/, times: 1_000 });
  const report = await collectStatus(paths, { clock: later, offset: 1, limit: 2, now: T0 });
  t.same(summary(report), ['B:DONE', 'C:DONE']);
  t.same(report.invalid, []);
  clearFaults();
});

t.test('`orch validate` checks the cache against its own schema when named', async t => {
  const paths = project(t);
  await collectStatus(paths, { clock: later });
  const report = await validateProject(paths, [paths.statusCache]);
  t.match(report, { errors: 0, files: [{ kind: 'cache' }] });
});
