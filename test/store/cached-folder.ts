import t from 'tap';
import { execFileSync } from 'node:child_process';
import { lstatSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CachedFolder, RACY_MS, signatureOf } from '../../src/store/cached-folder.js';
import { parseJson } from '../../src/store/parse-json.js';
import { readTextFile } from '../../src/store/read-file.js';

interface Doc {
  n: number;
}

/** A folder cache over `dir` that counts its loads, with a clock the test sets. */
function cacheOver(dir: string): { cache: CachedFolder<Doc>; loads: string[]; clock: { now: number } } {
  const loads: string[] = [];
  const clock = { now: Date.now() };
  const cache = new CachedFolder<Doc>({
    dir,
    load: async path => {
      loads.push(path);
      const doc = parseJson(path, (await readTextFile(path)).text) as Doc;
      if (typeof doc.n !== 'number') throw new Error('n must be a number');
      return doc;
    },
    accept: name => name.endsWith('.json'),
    same: (a, b) => a.n === b.n,
    now: () => clock.now,
  });
  return { cache, loads, clock };
}

/** The documents the cache holds (the files that loaded). */
function loaded(cache: CachedFolder<Doc>): Doc[] {
  return cache.names().flatMap(name => {
    const cached = cache.get(name);
    return cached?.ok === true ? [cached.value] : [];
  });
}

/** Writes `name` with an mtime well in the past, so its signature is trusted once read. */
function writeOld(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, name), text);
  const past = new Date(Date.now() - 10 * RACY_MS);
  utimesSync(join(dir, name), past, past);
}

t.test('a full look reads each unchanged file once, then only the files whose signature changed', async t => {
  const dir = t.testdir();
  writeOld(dir, 'a.json', '{"n":1}');
  writeOld(dir, 'b.json', '{"n":2}');
  const { cache, loads } = cacheOver(dir);
  t.same([...(await cache.refreshAll())].sort(), ['a.json', 'b.json']);
  t.equal(loads.length, 2);
  t.same([...(await cache.refreshAll())], [], 'nothing changed');
  t.equal(loads.length, 2, 'no file read again');
  writeOld(dir, 'b.json', '{"n":22}');
  t.same([...(await cache.refreshAll())], ['b.json']);
  t.same(loaded(cache).map(d => d.n).sort(), [1, 22]);
  t.equal(loads.length, 3);
});

t.test('a file replaced by rename, a deleted file and a new file are all seen', async t => {
  const dir = t.testdir();
  writeOld(dir, 'a.json', '{"n":1}');
  writeOld(dir, 'gone.json', '{"n":2}');
  const { cache } = cacheOver(dir);
  await cache.refreshAll();
  writeOld(dir, 'a.tmp', '{"n":9}');
  renameSync(join(dir, 'a.tmp'), join(dir, 'a.json'));
  rmSync(join(dir, 'gone.json'));
  writeOld(dir, 'new.json', '{"n":3}');
  t.same([...(await cache.refreshAll())].sort(), ['a.json', 'gone.json', 'new.json']);
  t.same(cache.names().sort(), ['a.json', 'new.json']);
});

t.test('a file changed within RACY_MS of its read is read again on the next look, even with the same signature', async t => {
  const dir = t.testdir();
  const { cache, loads, clock } = cacheOver(dir);
  writeFileSync(join(dir, 'a.json'), '{"n":1}'); // mtime: now, so the read is "racy"
  await cache.refresh('a.json');
  await cache.refresh('a.json');
  t.equal(loads.length, 2, 'not trusted yet: read again');
  clock.now = Date.now() + 2 * RACY_MS;
  await cache.refresh('a.json');
  t.equal(loads.length, 3, 'read once more, now long after its mtime');
  await cache.refresh('a.json');
  t.equal(loads.length, 3, 'trusted from then on');
});

t.test('a file that fails to load is kept as a failure and read again when it changes', async t => {
  const dir = t.testdir();
  writeOld(dir, 'bad.json', '{"n":');
  const { cache } = cacheOver(dir);
  await cache.refreshAll();
  t.equal(cache.failures().length, 1);
  t.match(cache.failures()[0]?.path, /bad\.json$/);
  t.equal(loaded(cache).length, 0);
  writeOld(dir, 'bad.json', '{"n":5}');
  t.ok(await cache.refresh('bad.json'));
  t.same(loaded(cache), [{ n: 5 }]);
  t.same(cache.failures(), []);
});

t.test('noteWritten trusts the signature our write had, not the file that stands there now', async t => {
  const dir = t.testdir();
  const { cache } = cacheOver(dir);
  const path = join(dir, 'mine.json');
  writeFileSync(path, '{"n":7}');
  const ours = signatureOf(lstatSync(path));
  // Replaced by a FIFO after our write and before we noted it (a slow directory fsync under load).
  rmSync(path);
  execFileSync('mkfifo', [path]);
  t.notOk(cache.noteWritten('mine.json', { n: 7 }, ours), 'not ours any more: not cached');
  t.ok(await cache.refresh('mine.json'), 'the FIFO is a change');
  t.match(cache.failures(), [{ path, error: { code: 'ORCH_NOT_REGULAR_FILE' } }]);
  t.notOk(cache.noteWritten('mine.json', { n: 9 }, undefined), 'without the signature of our write nothing is trusted');
  t.ok(await cache.refresh('mine.json'), 'the next look reads the file again: not our write, a change');
  t.match(cache.failures(), [{ path, error: { code: 'ORCH_NOT_REGULAR_FILE' } }]);
  rmSync(path);
  t.notOk(cache.noteWritten('mine.json', { n: 7 }, ours), 'nor when the file is gone');
});

t.test('a file deleted right after our first write of it, before we noted the write: the next look reports it gone', async t => {
  const dir = t.testdir();
  const { cache } = cacheOver(dir);
  const path = join(dir, 'new.json');
  writeFileSync(path, '{"n":1}');
  const ours = signatureOf(lstatSync(path));
  rmSync(path); // a person (or a test) deleting the record the moment it appeared
  t.notOk(cache.noteWritten('new.json', { n: 1 }, ours));
  t.ok(await cache.refresh('new.json'), 'the deletion is a change (it was lost: no entry, so "gone" changed nothing)');
  t.notOk(cache.has('new.json'));
});

t.test('noteWritten caches our own write: its echo is not read again', async t => {
  const dir = t.testdir();
  const { cache, loads } = cacheOver(dir);
  writeFileSync(join(dir, 'mine.json'), '{"n":7}');
  cache.noteWritten('mine.json', { n: 7 }, signatureOf(lstatSync(join(dir, 'mine.json'))));
  t.notOk(await cache.refresh('mine.json'), 'the echo is not a change');
  t.equal(loads.length, 0);
  writeFileSync(join(dir, 'other.tmp'), '{"n":8}');
  renameSync(join(dir, 'other.tmp'), join(dir, 'mine.json'));
  t.ok(await cache.refresh('mine.json'), 'a write by someone else (a new inode) is');
  t.same(cache.get('mine.json'), { ok: true, value: { n: 8 } });
});

t.test('a missing folder is an empty one', async t => {
  const { cache } = cacheOver(join(t.testdir(), 'nope'));
  t.same([...(await cache.refreshAll())], []);
  t.same(loaded(cache), []);
});

t.test('a failing file removed or fixed is no longer a failure; the others still are', async t => {
  const dir = t.testdir();
  writeOld(dir, 'a.json', '{"n":');
  writeOld(dir, 'b.json', '{"n":');
  writeOld(dir, 'c.json', '{"n":');
  const { cache } = cacheOver(dir);
  await cache.refreshAll();
  t.equal(cache.failures().length, 3);
  rmSync(join(dir, 'a.json'));
  writeOld(dir, 'b.json', '{"n":2}');
  await cache.refreshAll();
  t.match(cache.failures().map(failure => failure.path), [/c\.json$/], 'only the file still broken');
});
