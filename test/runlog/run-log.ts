import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, appendFileSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RunLog } from '../../src/runlog/run-log.js';
import { formatEntry, formatRunHeader, lastRunStatus, oneLine, tasksTouchedMessage } from '../../src/runlog/format.js';
import { checkRunLog } from '../fixtures/run-log-checker.js';

const fixedClock = (start: number) => {
  let now = start;
  return { now: () => (now += 1000), sleep: async () => undefined };
};

t.test('a run section has the header, entries and summary of PRODUCT.md §9, line by line', async t => {
  const dir = t.testdir();
  const log = new RunLog({ runLogPath: join(dir, 'LOG.md'), eventsPath: join(dir, 'events.jsonl'), runId: 'r1', clock: fixedClock(Date.UTC(2025, 11, 10, 10, 30, 0)) });
  await log.startRun(['RAE-001', 'RAE-002']);
  await log.entry({ category: 'task', level: 'info', message: 'Task RAE-001 started: Implement search strategies', task_id: 'RAE-001' });
  await log.entry({ category: 'quality_gate', level: 'error', message: 'Quality Gate ❌ FAILED (task=RAE-001, 45.2s)', details: ['❌ mypy failed'] });
  await log.entry({ category: 'retry', level: 'warning', message: '⚠️  Retry attempt 2/3 for step S2 (task=RAE-001): Type checking failed' });
  await log.entry({ category: 'task', level: 'success', message: '✅ Task RAE-001 completed with status: done' });
  await log.endRun({ costUsd: 0.85, completed: 2, failed: 0, needingReview: 0 });
  const text = readFileSync(join(dir, 'LOG.md'), 'utf8');
  t.same(checkRunLog(text), { problems: [], runs: 1, closedRuns: 1 });
  t.match(text, /\n## Run: 2025-12-10T10:30:02\n\n\*\*Started\*\*: 2025-12-10T10:30:02\.000Z\n\n\*\*Tasks\*\*: RAE-001, RAE-002 carried over \(the tasks this run touches are listed at its end\)\n\n### Execution Log\n\n/);
  t.match(text, /- `10:30:04` ❌ \*\*quality_gate\*\*: Quality Gate ❌ FAILED \(task=RAE-001, 45\.2s\)\n {2}- ❌ mypy failed\n/);
  t.match(text, /- `10:30:05` ⚠️ {2}\*\*retry\*\*: /);
  t.match(text, /\*\*Total Cost\*\*: \$0\.85\n\n\*\*Tasks Completed\*\*: 2\n/);
  const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map(line => JSON.parse(line));
  t.equal(events.length, 4);
  t.match(events[1], { category: 'quality_gate', level: 'error', run_id: 'r1', details: ['❌ mypy failed'] });
});

t.test('a run that died has no summary: the next run says so first, and a torn last line is closed', async t => {
  const dir = t.testdir();
  const path = join(dir, 'LOG.md');
  const first = new RunLog({ runLogPath: path, eventsPath: join(dir, 'e.jsonl'), runId: 'r1' });
  await first.startRun(['A']);
  await first.entry({ category: 'task', level: 'info', message: 'Task A started' });
  appendFileSync(path, '- `10:00:00` ℹ️  **ta'); // killed mid-append
  t.equal(lastRunStatus(readFileSync(path, 'utf8')).closed, false);
  const second = new RunLog({ runLogPath: path, eventsPath: join(dir, 'e.jsonl'), runId: 'r2' });
  t.same(await second.startRun(['A']), { previousRunDied: true });
  await second.endRun({ costUsd: 0, completed: 1, failed: 0, needingReview: 0 });
  const text = readFileSync(path, 'utf8');
  t.match(text, /\*\*ta\n\n## Run: /, 'the torn line is closed before the new header');
  t.match(text, /\*\*Note\*\*: The previous run \(\S+\) ended abnormally/);
  const check = checkRunLog(text);
  t.equal(check.runs, 2);
  t.equal(check.closedRuns, 1);
  t.equal(check.problems.length, 1, 'only the torn line is reported');
  t.match(check.problems[0]?.text, /\*\*ta$/);
});

t.test('a list of tasks stays one readable line: cut with "and N more", the full list named', async t => {
  const ids = Array.from({ length: 5000 }, (_, i) => `task-${String(i).padStart(59, '0')}`);
  const header = formatRunHeader({ startedAt: '2025-01-01T00:00:00.000Z', carriedOver: ids });
  const tasksLine = header.split('\n').find(line => line.startsWith('**Tasks**: ')) ?? '';
  t.ok(tasksLine.length < 500, `the header's Tasks line is ${tasksLine.length} characters`);
  t.match(tasksLine, / and \d+ more carried over \(the tasks this run touches are listed at its end\)$/);
  const message = tasksTouchedMessage(ids, '.isollm/runs/2025-01-01T00-00-00-000Z-abcd/summary.json');
  t.ok(message.length < 500, `the last entry is ${message.length} characters, under oneLine's cut`);
  t.match(message, /^Tasks this run touched \(5000\): task-0+, .* and \d+ more \(all in \.isollm\/runs\/\S+\/summary\.json\)$/);
  t.equal(tasksTouchedMessage(['A', 'B'], 'x'), 'Tasks this run touched (2): A, B', 'a short list is whole');
  t.equal(tasksTouchedMessage([], 'x'), 'Tasks this run touched: none');
});

t.test('text from commands is folded to one line and cannot open a code fence', async t => {
  t.equal(oneLine('a\nb\n```js\nx'), "a ⏎ b ⏎ '''js ⏎ x");
  const entry = formatEntry({ at: '2025-01-01T00:00:00.000Z', level: 'info', category: 'task', message: 'two\nlines' });
  t.equal(entry.split('\n').length, 2, 'one line and its terminator');
  t.equal(oneLine('x'.repeat(600)).length, 500);
});

t.test('several processes appending at once never tear or interleave an entry', async t => {
  const dir = t.testdir();
  const path = join(dir, 'LOG.md');
  const script = `
    import { RunLog } from ${JSON.stringify(new URL('../../src/runlog/run-log.ts', import.meta.url).href)};
    const log = new RunLog({ runLogPath: process.argv[1], eventsPath: process.argv[2], runId: 'p' + process.argv[3] });
    for (let i = 0; i < 200; i++) await log.entry({ category: 'task', level: 'info', message: 'writer ' + process.argv[3] + ' entry ' + i + ' ' + 'x'.repeat(300) });
  `;
  await Promise.all(
    [0, 1, 2, 3].map(
      n =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path, join(dir, 'e.jsonl'), String(n)], { stdio: 'inherit' });
          child.on('exit', code => (code === 0 ? resolve() : reject(new Error(`writer ${n} exited ${code}`))));
        }),
    ),
  );
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  t.equal(lines.length, 800);
  t.ok(lines.every(line => /^- `\d\d:\d\d:\d\d` ℹ️ {2}\*\*task\*\*: writer \d entry \d+ x{300}$/.test(line)), 'every line is one whole entry');
  const events = readFileSync(join(dir, 'e.jsonl'), 'utf8').trim().split('\n');
  t.equal(events.length, 800);
  t.ok(events.every(line => JSON.parse(line).message.startsWith('writer ')));
});

t.test('an entry that cannot be appended surfaces as ORCH_WRITE_FAILED naming the file', async t => {
  const dir = t.testdir({ target: '' });
  const eventsPath = join(dir, 'e.jsonl');
  symlinkSync(join(dir, 'target'), eventsPath);
  const log = new RunLog({ runLogPath: join(dir, 'LOG.md'), eventsPath, runId: 'r1' });
  await t.rejects(log.entry({ category: 'task', level: 'info', message: 'x' }), { code: 'ORCH_WRITE_FAILED', details: { file: eventsPath, errno: 'ELOOP' } });
  t.equal(readFileSync(join(dir, 'target'), 'utf8'), '', 'a symlink is never written through');
});

t.test('entries asked for at once are written in the order asked, each seen by onEntry once it is written', async t => {
  const dir = t.testdir();
  const seen: string[] = [];
  const log = new RunLog({ runLogPath: join(dir, 'LOG.md'), eventsPath: join(dir, 'events.jsonl'), runId: 'r1', onEntry: event => seen.push(event.message) });
  await log.startRun([]);
  const messages = Array.from({ length: 40 }, (_, i) => `entry ${i}`);
  // Asked for in one turn: the first goes out alone, the rest wait and go out in batches.
  const written = await Promise.all(messages.map(message => log.entry({ category: 'task', level: 'info', message })));
  t.same(written.map(event => event.message), messages);
  t.same(seen, messages, 'onEntry in the order asked');
  const markdown = readFileSync(join(dir, 'LOG.md'), 'utf8').split('\n').filter(line => line.startsWith('- `'));
  t.same(markdown.map(line => line.replace(/^.*\*\*task\*\*: /, '')), messages, 'the markdown in that order');
  const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map(line => (JSON.parse(line) as { message: string }).message);
  t.same(events, messages, 'events.jsonl in that order');
});

t.test('a batch the disk refuses fails every entry in it, and the next entries are written again', async t => {
  const dir = t.testdir({ target: '' });
  const eventsPath = join(dir, 'e.jsonl');
  symlinkSync(join(dir, 'target'), eventsPath);
  const log = new RunLog({ runLogPath: join(dir, 'LOG.md'), eventsPath, runId: 'r1' });
  const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => log.entry({ category: 'task', level: 'info', message: `refused ${i}` })));
  t.same(results.map(result => result.status), ['rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
  t.notOk(existsSync(join(dir, 'LOG.md')) && readFileSync(join(dir, 'LOG.md'), 'utf8') !== '', 'nothing of a refused batch is in the markdown');
  unlinkSync(eventsPath);
  await log.entry({ category: 'task', level: 'info', message: 'written' });
  t.match(readFileSync(join(dir, 'LOG.md'), 'utf8'), /written/);
});

t.test('the summary waits for the entries still queued: none lands below it', async t => {
  const dir = t.testdir();
  const log = new RunLog({ runLogPath: join(dir, 'LOG.md'), eventsPath: join(dir, 'events.jsonl'), runId: 'r1' });
  await log.startRun([]);
  const pending = Array.from({ length: 20 }, (_, i) => log.entry({ category: 'task', level: 'info', message: `late ${i}` }));
  await log.endRun({ costUsd: 0, completed: 0, failed: 0, needingReview: 0 });
  await Promise.all(pending);
  const text = readFileSync(join(dir, 'LOG.md'), 'utf8');
  t.ok(text.lastIndexOf('late 19') < text.indexOf('### Run Summary'), 'every entry above the summary');
  t.same(checkRunLog(text), { problems: [], runs: 1, closedRuns: 1 });
});
