import t from 'tap';
import { join } from 'node:path';
import { classifyPath, ignoredBecause, watchedPlaces } from '../../src/watcher/classify.js';
import { statePaths } from '../../src/store/paths.js';

const paths = statePaths('/p');
const places = watchedPlaces(paths);

t.test('a *.json directly in tasks/, inbox/ or state/tasks/ is a hint of its kind, with the file name as id', async t => {
  t.same(classifyPath(places, join(paths.tasks, 'T-1.json')), { kind: 'spec', id: 'T-1', path: '/p/.isollm/tasks/T-1.json' });
  t.same(classifyPath(places, join(paths.records, 'T-1.json')), { kind: 'record', id: 'T-1', path: '/p/.isollm/state/tasks/T-1.json' });
  t.same(classifyPath(places, join(paths.inbox, '2025-x-T-1-approve-abc.json')), { kind: 'inbox', id: '2025-x-T-1-approve-abc', path: '/p/.isollm/inbox/2025-x-T-1-approve-abc.json' });
  t.same(classifyPath(places, paths.config), { kind: 'config', path: '/p/.isollm/config.json' });
  t.same(classifyPath(places, '/p/.isollm/tasks/../tasks/A.json'), { kind: 'spec', id: 'A', path: '/p/.isollm/tasks/A.json' }, 'paths are resolved first');
});

t.test('editor, lock and temp files beside a spec are ignored, each for a stated reason', async t => {
  const ignored = [
    '.A.json.swp', '.A.json.swx', 'A.json.swp', 'A.json~', '4913', '.#A.json', 'A.json___jb_tmp___', 'A.json___jb_old___',
    'A.json.vsctmp', 'A.json.1234-5678.1.tmp', 'A.json.lock', '.orch-tmp', '.DS_Store', 'A.yaml', 'A.JSON', 'A.json.bak', 'notes.md',
  ];
  for (const name of ignored) {
    t.ok(ignoredBecause(name), `${name}: ${ignoredBecause(name)}`);
    t.equal(classifyPath(places, join(paths.tasks, name)), undefined, `${name} gives no hint in tasks/`);
    t.equal(classifyPath(places, join(paths.records, name)), undefined, `${name} gives no hint in state/tasks/`);
  }
  t.equal(ignoredBecause('A.json'), undefined);
  t.equal(ignoredBecause('weird name.json'), undefined, 'an unsafe file name still gives a hint: the engine reports it');
});

t.test('a rejected copy is ignored beside the records, but a spec of that name is still a spec', async t => {
  const name = 'T1.rejected-2025-12-10T10-30-00-000Z.json';
  t.equal(classifyPath(places, join(paths.records, name)), undefined);
  t.match(classifyPath(places, join(paths.tasks, name)), { kind: 'spec' });
});

t.test('nothing outside the four places gives a hint', async t => {
  for (const path of [
    paths.session,
    join(paths.workers, 'w1.json'),
    join(paths.stateDir, 'events.jsonl'),
    join(paths.stateDir, 'other.json'),
    join(paths.tasks, 'sub', 'A.json'),
    join(paths.records, '.orch-tmp', 'A.json'),
    join(paths.runs, 'r1', 'A', 'result.json'),
    '/elsewhere/config.json',
    paths.tasks,
  ]) {
    t.equal(classifyPath(places, path), undefined, path);
  }
});

t.test('a spec whose file name holds a newline is still a hint: the engine refuses it by name', async t => {
  t.same(classifyPath(places, join(paths.tasks, 'new\nline.json')), { kind: 'spec', id: 'new\nline', path: '/p/.isollm/tasks/new\nline.json' });
  t.equal(ignoredBecause('notes\n.txt'), 'not a .json file');
});
