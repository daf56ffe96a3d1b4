import t from 'tap';
import { join } from 'node:path';
import { watchedPlaces } from '../../src/watcher/classify.js';
import { folderHint, nativeEvent, nativeFolders } from '../../src/watcher/native-events.js';
import { statePaths } from '../../src/store/paths.js';

const places = watchedPlaces(statePaths('/p'));

t.test('natively the four folders are watched, each with its own fs.watch', async t => {
  t.same(nativeFolders(places), ['/p/.isollm/tasks', '/p/.isollm/inbox', '/p/.isollm/state/tasks', '/p/.isollm']);
});

t.test("an entry's name is the hint: spec, record, inbox or config, with no look at the file", async t => {
  t.same(nativeEvent(places, places.tasks, 'A.json'), { hint: { kind: 'spec', id: 'A', path: '/p/.isollm/tasks/A.json' }, recheck: false });
  t.same(nativeEvent(places, places.records, 'A.json'), { hint: { kind: 'record', id: 'A', path: '/p/.isollm/state/tasks/A.json' }, recheck: false });
  t.same(nativeEvent(places, places.inbox, 'd1.json'), { hint: { kind: 'inbox', id: 'd1', path: '/p/.isollm/inbox/d1.json' }, recheck: false });
  t.same(nativeEvent(places, places.stateDir, 'config.json'), { hint: { kind: 'config', path: '/p/.isollm/config.json' }, recheck: false });
});

t.test('ignored names, and the state dir entries that are not ours, give nothing', async t => {
  for (const name of ['.orch-tmp', '.A.json.swp', 'A.json~', '4913', '.#A.json', 'A.json___jb_tmp___', 'x.tmp', 'A.json.lock', 'sub']) {
    t.same(nativeEvent(places, places.tasks, name), { recheck: false }, `tasks/${name}`);
    t.same(nativeEvent(places, places.records, name), { recheck: false }, `state/tasks/${name}`);
  }
  t.same(nativeEvent(places, places.records, 'A.rejected-2025-01-01T00-00-00-000Z.json'), { recheck: false });
  for (const name of ['events.jsonl', 'runs', 'session.json', 'other.json', 'ORCHESTRATOR_RUN_LOG.md']) {
    t.same(nativeEvent(places, places.stateDir, name), { recheck: false }, name);
  }
});

t.test('an entry of the state dir that is or holds a watched folder asks for a recheck', async t => {
  for (const name of ['tasks', 'inbox', 'state']) t.same(nativeEvent(places, places.stateDir, name), { recheck: true }, name);
});

t.test("a folder's own name from its own watch (deleted or moved) marks it changed and asks for a recheck", async t => {
  t.same(nativeEvent(places, places.tasks, 'tasks'), { recheck: true, invalidate: places.tasks });
  t.same(nativeEvent(places, places.records, 'tasks'), { recheck: true, invalidate: places.records });
  t.same(nativeEvent(places, places.inbox, 'inbox'), { recheck: true, invalidate: places.inbox });
  t.same(nativeEvent(places, places.stateDir, '.isollm'), { recheck: true, invalidate: places.stateDir });
});

t.test('an event with no name means "something changed here": a hint for the whole folder, and a recheck', async t => {
  t.same(nativeEvent(places, places.tasks, null), { hint: { kind: 'spec', path: places.tasks }, recheck: true });
  t.same(nativeEvent(places, places.inbox, ''), { hint: { kind: 'inbox', path: places.inbox }, recheck: true });
  t.same(nativeEvent(places, places.records, undefined), { hint: { kind: 'record', path: places.records }, recheck: true });
  t.same(nativeEvent(places, places.stateDir, null), { hint: { kind: 'config', path: places.config }, recheck: true });
  t.same(nativeEvent(places, places.tasks, Buffer.from('A.json')), { hint: { kind: 'spec', path: places.tasks }, recheck: true }, 'a Buffer name is not read');
});

t.test('the hint for a whole folder names the folder, and for the state dir, config.json', async t => {
  t.same(folderHint(places, places.tasks), { kind: 'spec', path: places.tasks });
  t.same(folderHint(places, places.inbox), { kind: 'inbox', path: places.inbox });
  t.same(folderHint(places, places.records), { kind: 'record', path: places.records });
  t.same(folderHint(places, places.stateDir), { kind: 'config', path: join('/p/.isollm', 'config.json') });
});
