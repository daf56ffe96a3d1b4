// The task tree without a watcher (`orch --once`): looks at every file are spaced, by at least
// UNWATCHED_LOOK_MS and by UNWATCHED_LOOK_SPACING times what the last look cost, so a big project does
// not spend its main thread on readdir and lstat between attempts.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { createRecord } from '../../src/machine/transition.js';
import { UNWATCHED_LOOK_MS, UNWATCHED_LOOK_SPACING, TaskTree } from '../../src/runtime/task-tree.js';
import { statePaths } from '../../src/store/paths.js';

t.test('a costly look at every file pushes the next one back in proportion; hinted passes go on meanwhile', async t => {
  const root = t.testdir({});
  const paths = statePaths(root);
  mkdirSync(paths.tasks, { recursive: true });
  mkdirSync(paths.records, { recursive: true });
  // The first look reads, parses and validates each spec: with 1,500 of them it takes well over
  // UNWATCHED_LOOK_MS / UNWATCHED_LOOK_SPACING (12.5 ms) on any machine this runs on.
  for (let i = 0; i < 1500; i++) writeFileSync(join(paths.tasks, `T${i}.json`), JSON.stringify({ goal: `task ${i}` }));
  const tree = new TaskTree(paths, systemClock, false);
  t.equal(tree.lookSpacingMs(), UNWATCHED_LOOK_MS, 'before any look: the fixed spacing');
  const started = performance.now();
  const first = await tree.refresh([], { throttled: true });
  const took = performance.now() - started;
  t.equal(first.full, true, 'the first pass looks at every file');
  t.equal(tree.specView().byId.size, 1500);
  t.ok(tree.lookSpacingMs() > UNWATCHED_LOOK_MS, `spaced by more than ${UNWATCHED_LOOK_MS} ms after a look of ${took.toFixed(0)} ms`);
  t.ok(tree.lookSpacingMs() <= UNWATCHED_LOOK_SPACING * took, 'by at most the spacing times what it cost');
  writeFileSync(join(paths.tasks, 'NEW.json'), JSON.stringify({ goal: 'dropped meanwhile' }));
  const next = await tree.refresh([join(paths.tasks, 'NEW.json')], { throttled: true });
  t.equal(next.full, false, 'the pass right after looks only at what it was asked to');
  t.ok(tree.specView().byId.has('NEW'), 'and sees that file');
  t.ok((tree.msToNextLook() ?? 0) > 0, 'the next look at everything is still due later');
  t.equal((await tree.refresh([])).full, true, 'an unthrottled pass (the last before --once ends) looks at every file');
});

t.test('the start looks at the records once: the first full look takes only the hinted record files, unless a look at everything was asked for since', async t => {
  const paths = statePaths(t.testdir({}));
  mkdirSync(paths.tasks, { recursive: true });
  mkdirSync(paths.records, { recursive: true });
  const write = (id: string, goal: string): void =>
    writeFileSync(join(paths.records, `${id}.json`), JSON.stringify(createRecord({ goal }, id, `tasks/${id}.json`, 'a'.repeat(64), Date.now())));
  write('A', 'a');
  write('B', 'b');
  const tree = new TaskTree(paths, systemClock, true);
  await tree.lookAtRecords();
  t.same(tree.recordFiles().map(file => file.name).sort(), ['A.json', 'B.json']);
  // Changed after the start's look, B hinted by the watcher: the first pass's full look reads B only.
  write('A', 'a, edited');
  write('B', 'b, edited');
  tree.hint(join(paths.records, 'B.json'));
  const first = await tree.refresh([]);
  t.equal(first.full, true, 'a full look (the specs all looked at)');
  t.same([...first.records], ['B.json'], 'of the records, only the hinted file');
  t.equal((await tree.refresh([])).records.size, 0, 'A unseen until a look at everything is asked for (the resync when the watcher is ready)');
  tree.lookAtEverything();
  t.same([...(await tree.refresh([])).records], ['A.json']);

  const again = new TaskTree(paths, systemClock, true);
  await again.lookAtRecords();
  write('A', 'a, edited twice');
  again.lookAtEverything(); // the watcher got ready after the start's look
  t.same([...(await again.refresh([])).records], ['A.json'], 'asked for before the first pass: the records are looked at again');
});
