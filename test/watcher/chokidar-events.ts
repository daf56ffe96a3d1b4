import t from 'tap';
import { folderEvent, ignoredFor, rawEventPath, watchedFolders } from '../../src/watcher/chokidar-events.js';
import { watchedPlaces } from '../../src/watcher/classify.js';
import { statePaths } from '../../src/store/paths.js';

const places = watchedPlaces(statePaths('/p'));
const roots = new Set(watchedFolders(places));

t.test('a raw event names a path: a name in a watched folder, a file watched itself, or a polled full path', async t => {
  t.equal(rawEventPath(roots, 'A.json', { watchedPath: places.tasks }), '/p/.isollm/tasks/A.json');
  t.equal(rawEventPath(roots, 'A.json', { watchedPath: '/p/.isollm/tasks/A.json' }), '/p/.isollm/tasks/A.json');
  t.equal(rawEventPath(roots, '/p/.isollm/tasks/A.json', { curr: {}, prev: {} }), '/p/.isollm/tasks/A.json');
  t.equal(rawEventPath(roots, 'A.json', { curr: {}, prev: {} }), undefined, 'a relative path with no watched path is meaningless');
  t.equal(rawEventPath(roots, '', { watchedPath: places.tasks }), undefined);
  t.equal(rawEventPath(roots, null, { watchedPath: places.tasks }), undefined);
  t.equal(rawEventPath(roots, 'A.json', undefined), undefined);
});

t.test('an event about a watched folder itself: from its own watcher (its watch is dead) or from its parent', async t => {
  t.same(folderEvent(roots, 'tasks', { watchedPath: places.tasks }), { folder: places.tasks, self: true });
  t.same(folderEvent(roots, 'tasks', { watchedPath: places.records }), { folder: places.records, self: true });
  t.same(folderEvent(roots, 'tasks', { watchedPath: places.stateDir }), { folder: places.tasks, self: false });
  t.same(folderEvent(roots, 'inbox', { watchedPath: places.stateDir }), { folder: places.inbox, self: false });
  t.equal(folderEvent(roots, 'A.json', { watchedPath: places.tasks }), undefined);
  t.equal(folderEvent(roots, 'config.json', { watchedPath: places.stateDir }), undefined);
  t.equal(folderEvent(roots, '/p/.isollm/tasks', { curr: {} }), undefined, 'polling gives no watched path');
});

t.test('chokidar tracks the folders only natively, and the allowed files too when polling', async t => {
  const dir = { isDirectory: () => true };
  const file = { isDirectory: () => false };
  const native = ignoredFor(places, false);
  const polling = ignoredFor(places, true);
  for (const root of roots) t.equal(native(root, dir) || polling(root, dir), false, root);
  t.equal(native('/p/.isollm/tasks/A.json', file), true);
  t.equal(polling('/p/.isollm/tasks/A.json', file), false);
  t.equal(polling('/p/.isollm/tasks/A.json'), false, 'asked before the stat too');
  t.equal(polling('/p/.isollm/tasks/.A.json.swp', file), true);
  t.equal(polling('/p/.isollm/tasks/sub.json', dir), true, 'a folder is never entered, whatever its name');
  t.equal(polling('/p/.isollm/events.jsonl', file), true);
});
