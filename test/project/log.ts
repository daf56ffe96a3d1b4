import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecentEvents, readRunSections, runLogPath } from '../../src/project/log.js';
import { formatEntry, formatRunHeader, formatRunSummary } from '../../src/runlog/format.js';
import { statePaths } from '../../src/store/paths.js';

t.test('the last run sections of a run log, oldest first, found from the end', async t => {
  const dir = t.testdir();
  const section = (n: number): string =>
    formatRunHeader({ startedAt: `2025-01-0${n}T10:00:00.000Z`, carriedOver: ['T1'] }) +
    formatEntry({ at: `2025-01-0${n}T10:00:01.000Z`, level: 'info', category: 'task', message: `run ${n} ${'x'.repeat(30_000)}` }) +
    formatRunSummary({ endedAt: `2025-01-0${n}T11:00:00.000Z`, durationS: 1, costUsd: 0, completed: 1, failed: 0, needingReview: 0 });
  const path = join(dir, 'log.md');
  writeFileSync(path, `# preamble\n${section(1)}${section(2)}${section(3)}`);
  const last = await readRunSections(path, 1);
  t.equal(last.sections.length, 1);
  t.match(last.sections[0], /^## Run: 2025-01-03T10:00:00\n[\s\S]*run 3 [\s\S]*### Run Summary[\s\S]*---\n$/);
  t.equal(last.more, true);
  const two = await readRunSections(path, 2);
  t.same(two.sections.map(s => s.slice(0, 18)), ['## Run: 2025-01-02', '## Run: 2025-01-03']);
  const all = await readRunSections(path, 9);
  t.equal(all.sections.length, 3);
  t.equal(all.more, false);
  t.same(await readRunSections(join(dir, 'none.md'), 1), { path: join(dir, 'none.md'), sections: [], more: false, exists: false });
});

t.test('the last events, paged from the end, with bad lines reported and not thrown', async t => {
  const dir = t.testdir();
  const event = (n: number): string => JSON.stringify({ version: 1, at: '2025-01-01T00:00:00.000Z', run_id: 'r', category: 'task', level: 'info', message: `e${n}` });
  const path = join(dir, 'events.jsonl');
  writeFileSync(path, `${[1, 2, 3, 4].map(event).join('\n')}\n{"not":"an event"}\n${event(5)}\n{"torn`);
  const recent = await readRecentEvents(path, 3);
  t.same(recent.events.map(e => e.message), ['e5']);
  t.match(recent.skipped, [{ from_end: 3, reason: /unknown field "not"|missing field/ }, { from_end: 1, reason: /not JSON/ }]);
  t.equal(recent.more, true);
  const older = await readRecentEvents(path, 2, 3);
  t.same(older.events.map(e => e.message), ['e3', 'e4']);
  t.same(await readRecentEvents(join(dir, 'none'), 5), { path: join(dir, 'none'), events: [], skipped: [], more: false });
});

t.test('the run log path comes from the config, relative to the project root', async t => {
  const root = t.testdir({ '.isollm': { 'config.json': JSON.stringify({ version: 1, project: 'p1', workflows: { default: { run: ['true'] } }, run_log: 'logs/run.md' }) } });
  t.equal(await runLogPath(statePaths(root)), join(root, 'logs/run.md'));
  const bare = t.testdir({ '.isollm': {} });
  t.equal(await runLogPath(statePaths(bare)), join(bare, 'ORCHESTRATOR_RUN_LOG.md'));
});
