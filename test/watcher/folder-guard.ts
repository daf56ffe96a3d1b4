import t from 'tap';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FolderGuard } from '../../src/watcher/folder-guard.js';

t.test('a folder removed, created, or replaced by a rename is reported once, then taken as the watched one', async t => {
  const root = t.testdir({ tasks: {}, inbox: {} });
  const tasks = join(root, 'tasks');
  const inbox = join(root, 'inbox');
  const guard = new FolderGuard([tasks, inbox]);
  await guard.remember();
  t.same(await guard.changed(), []);
  rmSync(tasks, { recursive: true });
  t.same(await guard.changed(), [tasks], 'removed');
  t.same(await guard.changed(), [], 'reported once');
  mkdirSync(tasks);
  t.same(await guard.changed(), [tasks], 'created again');
  mkdirSync(join(root, 'other'));
  rmSync(inbox, { recursive: true });
  renameSync(join(root, 'other'), inbox);
  t.same(await guard.changed(), [inbox], 'replaced by a rename');
});

t.test('invalidate reports a folder whatever its identity: rm -rf then mkdir can give the same inode and birth time', async t => {
  const root = t.testdir({ tasks: {} });
  const tasks = join(root, 'tasks');
  const guard = new FolderGuard([tasks]);
  await guard.remember();
  guard.invalidate(tasks);
  guard.invalidate(join(root, 'not-guarded'));
  t.same(await guard.changed(), [tasks]);
  t.same(await guard.changed(), []);
});

t.test('checks asked for while one runs join it, and it looks once more', async t => {
  const root = t.testdir({ tasks: {} });
  const tasks = join(root, 'tasks');
  const guard = new FolderGuard([tasks]);
  await guard.remember();
  rmSync(tasks, { recursive: true });
  const first = guard.changed();
  const second = guard.changed();
  t.equal(first, second, 'the same check');
  t.same(await first, [tasks]);
});
