import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findProjectRoot, layoutAt, statePaths } from '../../src/store/paths.js';

t.test('the .isollm layout keeps everything in .isollm/ and the machine-owned files in .isollm/state/', async t => {
  const p = statePaths('/p');
  t.match(p, {
    stateDir: '/p/.isollm', config: '/p/.isollm/config.json', tasks: '/p/.isollm/tasks', inbox: '/p/.isollm/inbox',
    machine: '/p/.isollm/state', session: '/p/.isollm/state/session.json', records: '/p/.isollm/state/tasks', archive: '/p/.isollm/state/archive',
    workers: '/p/.isollm/state/workers', statusCache: '/p/.isollm/state/status-cache.json', recordIndex: '/p/.isollm/state/record-index.json',
    runs: '/p/.isollm/runs', events: '/p/.isollm/events.jsonl', schemas: '/p/.isollm/schemas', runLog: '/p/ORCHESTRATOR_RUN_LOG.md',
  });
});

t.test('the orchestrator layout keeps config and specs in orchestrator/ and records, workers and session in orchestrator/state/', async t => {
  const p = statePaths('/p', 'orchestrator/state');
  t.match(p, {
    stateDir: '/p/orchestrator', config: '/p/orchestrator/config.json', tasks: '/p/orchestrator/tasks', inbox: '/p/orchestrator/inbox',
    machine: '/p/orchestrator/state', session: '/p/orchestrator/state/session.json', records: '/p/orchestrator/state/tasks', archive: '/p/orchestrator/state/archive',
    workers: '/p/orchestrator/state/workers', statusCache: '/p/orchestrator/state/status-cache.json', recordIndex: '/p/orchestrator/state/record-index.json',
    runs: '/p/orchestrator/runs', events: '/p/orchestrator/events.jsonl', schemas: '/p/orchestrator/schemas',
  });
});

t.test('the layout is found from a subfolder, and the old orchestrator layout is refused with ORCH_OLD_LAYOUT', async t => {
  const root = t.testdir({ orchestrator: { state: { tasks: {} } }, src: { deep: {} } });
  t.same(findProjectRoot(join(root, 'src/deep'), undefined, {}), { root, layout: 'orchestrator/state' });
  mkdirSync(join(root, 'orchestrator/state/state'));
  t.throws(() => layoutAt(root), { code: 'ORCH_OLD_LAYOUT' }, 'its records in state/state/');
  t.throws(() => findProjectRoot(join(root, 'src/deep'), undefined, {}), { code: 'ORCH_OLD_LAYOUT' });

  const other = t.testdir({ orchestrator: { state: { tasks: {} } } });
  writeFileSync(join(other, 'orchestrator/state/config.json'), '{}');
  t.throws(() => layoutAt(other), { code: 'ORCH_OLD_LAYOUT', details: { file: join(other, 'orchestrator/state/config.json') } }, 'its config in state/');

  const both = t.testdir({ '.isollm': {}, orchestrator: { state: { state: {} } } });
  t.equal(layoutAt(both), '.isollm', '.isollm/ comes first and is taken as it is');
});
