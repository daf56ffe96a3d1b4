// The fallback poller of one folder: real files, waits for the condition with a timeout.
import t from 'tap';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollFolder } from '../../src/watcher/folder-poller.js';
import { waitFor } from '../fixtures/wait-for.js';

t.test('an entry that appears, changes or goes is reported; a name it does not accept is not looked at', async t => {
  const dir = t.testdir({ 'old.json': '{}' });
  const seen: string[] = [];
  const poller = pollFolder(dir, { accepts: name => name.endsWith('.json'), onChange: name => seen.push(name), intervalMs: 20 });
  t.teardown(() => poller.stop());
  await poller.ready;
  t.same(seen, [], 'what was there at the start is the baseline');
  writeFileSync(join(dir, 'draft.tmp'), 'x');
  renameSync(join(dir, 'draft.tmp'), join(dir, 'new.json'));
  await waitFor('new.json to be reported', () => seen.includes('new.json'), 5000);
  writeFileSync(join(dir, 'old.json'), '{"changed": true}');
  await waitFor('old.json to be reported changed', () => seen.includes('old.json'), 5000);
  rmSync(join(dir, 'new.json'));
  await waitFor('new.json to be reported gone', () => seen.filter(name => name === 'new.json').length === 2, 5000);
  t.notOk(seen.includes('draft.tmp'));
});

t.test('a folder that goes counts as empty, and is looked at again when it comes back', async t => {
  const root = t.testdir({ watched: { 'a.json': '{}' } });
  const dir = join(root, 'watched');
  const seen: string[] = [];
  const poller = pollFolder(dir, { accepts: () => true, onChange: name => seen.push(name), intervalMs: 20 });
  t.teardown(() => poller.stop());
  await poller.ready;
  rmSync(dir, { recursive: true });
  await waitFor('a.json to be reported gone', () => seen.includes('a.json'), 5000);
  mkdirSync(dir); // back, with another file
  writeFileSync(join(dir, 'b.json'), '{}');
  await waitFor('b.json to be reported', () => seen.includes('b.json'), 5000);
});
