import t from 'tap';
import { MIGRATIONS, migrateDocument, type Migration } from '../../src/store/migrate.js';
import { CURRENT_VERSION, FILE_KINDS, type FileKind } from '../../src/schema/validators.js';

// A synthetic chain, 1 → 2 → 3: version 2 renamed `name` to `title`, version 3 added `tags`.
const chain: Migration[] = [
  { from: 2, migrate: doc => ({ ...doc, tags: [] }) },
  { from: 1, migrate: ({ name, ...rest }) => ({ ...rest, title: name }) },
];

t.test('a version-1 document is migrated step by step to the current version', async t => {
  const original = { version: 1, name: 'x' };
  const out = migrateDocument('f.json', 'spec', original, chain, 3);
  t.same(out, { version: 3, title: 'x', tags: [] });
  t.same(original, { version: 1, name: 'x' }, 'the input is not mutated');
  t.same(migrateDocument('f.json', 'spec', { version: 2, title: 'y' }, chain, 3), { version: 3, title: 'y', tags: [] }, 'from the middle of the chain');
});

t.test('each step sees the output of the one before', async t => {
  const seen: unknown[] = [];
  const spy: Migration[] = [1, 2].map(from => ({
    from,
    migrate: doc => {
      seen.push(doc);
      return { ...doc, [`step${from}`]: true };
    },
  }));
  migrateDocument('f.json', 'record', { version: 1 }, spy, 3);
  t.same(seen, [{ version: 1 }, { version: 2, step1: true }]);
});

t.test('a document already at the current version is returned as it is', async t => {
  const doc = { version: 3, title: 'z' };
  t.equal(migrateDocument('f.json', 'spec', doc, chain, 3), doc);
});

t.test('a missing step is refused with ORCH_VERSION_UNKNOWN', async t => {
  t.throws(() => migrateDocument('f.json', 'spec', { version: 1 }, chain.filter(m => m.from !== 2), 3), {
    code: 'ORCH_VERSION_UNKNOWN',
    details: { file: 'f.json', found: 1, supported: 3 },
  });
});

t.test('a newer version is refused with ORCH_VERSION_NEWER naming both versions', async t => {
  const error = t.throws(() => migrateDocument('/s/f.json', 'spec', { version: 4 }, chain, 3), {
    code: 'ORCH_VERSION_NEWER',
    details: { file: '/s/f.json', found: 4, supported: 3 },
  });
  t.match((error as Error).message, /\/s\/f\.json has version 4.*up to version 3/);
});

t.test('a version that is not a whole number from 1 is refused with ORCH_VERSION_UNKNOWN', async t => {
  for (const version of [1.5, '1', 0, -1, null, true, Number.NaN]) {
    t.throws(() => migrateDocument('f.json', 'spec', { version }, chain, 3), { code: 'ORCH_VERSION_UNKNOWN', details: { path: '/version' } }, JSON.stringify(version));
  }
});

t.test('a document without a version is left to the schema to judge', async t => {
  const doc = { title: 'no version' };
  t.equal(migrateDocument('f.json', 'spec', doc, chain, 3), doc);
});

t.test('for every current kind, MIGRATIONS leaves a version-1 document unchanged', async t => {
  for (const kind of Object.keys(FILE_KINDS) as FileKind[]) {
    t.equal(CURRENT_VERSION[kind], 1, `${kind} is at version 1`);
    t.same(MIGRATIONS[kind], [], `${kind} has no migrations yet`);
    const doc = { version: 1, anything: kind };
    t.equal(migrateDocument('f.json', kind, doc), doc, kind);
    t.throws(() => migrateDocument('f.json', kind, { version: 2 }), { code: 'ORCH_VERSION_NEWER' }, `${kind}: version 2 is newer`);
  }
});

t.test('a config without "version" is read as version 1 and migrated from there; a spec without one is left as it is', async t => {
  t.same(migrateDocument('config.json', 'config', { project: 'p' }, chain, 3), { version: 3, title: undefined, project: 'p', tags: [] }, 'version 1 is the start of the chain');
  t.same(migrateDocument('config.json', 'config', { project: 'p' }), { version: 1, project: 'p' });
  t.same(migrateDocument('t.json', 'spec', { goal: 'g' }), { goal: 'g' });
  t.throws(() => migrateDocument('config.json', 'config', { version: 'one', project: 'p' }), { code: 'ORCH_VERSION_UNKNOWN' }, 'a version that is there but wrong is still refused');
});
