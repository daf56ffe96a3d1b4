import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkRunLog } from '../fixtures/run-log-checker.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

// Runs in a child, on a 64 KiB tmpfs mounted at argv[1]: a filler takes most of the disk, entries of
// varied sizes (some with detail lines) are appended until the disk refuses several, the filler is
// deleted, and more entries go in. Prints what happened and both files' text as one JSON line (the
// tmpfs may vanish with the child's mount namespace). argv[2] 'events-only' keeps the markdown log
// off the tmpfs, so that every refusal is one of events.jsonl.
const SCRIPT = `
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunLog } from ${JSON.stringify(new URL('../../src/runlog/run-log.ts', import.meta.url).href)};
const dir = process.argv[1];
const filler = join(dir, 'filler');
try { writeFileSync(filler, Buffer.alloc(40 * 1024, 120)); } catch {}
const runLogPath = process.argv[2] === 'events-only' ? join(dir, '..', 'LOG.md') : join(dir, 'LOG.md');
const log = new RunLog({ runLogPath, eventsPath: join(dir, 'events.jsonl'), runId: 'r1' });
await log.startRun(['A']);
const written = [], failures = [];
let n = 0;
const append = async () => {
  n += 1;
  const message = 'entry ' + n + ' ' + 'x'.repeat(100 + ((n * 397) % 1400));
  const details = n % 3 === 0 ? ['detail one of ' + n, 'detail two ' + 'y'.repeat((n * 131) % 600)] : undefined;
  try {
    await log.entry({ category: 'task', level: 'info', message, ...(details ? { details } : {}) });
    written.push(n);
  } catch (error) {
    failures.push({ n, code: error.code, written: error.details?.written ?? null, errno: error.details?.errno ?? null });
  }
};
while (failures.length < 12 && n < 2000) await append();
unlinkSync(filler);
const after = [];
for (let i = 0; i < 5; i++) { await append(); after.push(n); }
await log.endRun({ costUsd: 0, completed: 0, failed: 0, needingReview: 0 });
console.log(JSON.stringify({ written, failures, after, markdown: readFileSync(runLogPath, 'utf8'), events: readFileSync(join(dir, 'events.jsonl'), 'utf8') }));
`;

interface Report {
  written: number[];
  failures: { n: number; code: string; written: number | null; errno: string | null }[];
  after: number[];
  markdown: string;
  events: string;
}

async function fullDisk(t: Test, mode: 'both' | 'events-only'): Promise<void> {
  let mounted: string | undefined;
  t.teardown(() => {
    if (mounted !== undefined) spawnSync('umount', [mounted]);
  });
  const disk = join(t.testdir(), 'disk');
  mkdirSync(disk);
  const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT];
  const mount = process.env.ORCH_TEST_NO_MOUNT === '1' ? { status: 1, stderr: 'disabled' } : spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { encoding: 'utf8' });
  let child;
  if (mount.status === 0) {
    mounted = disk;
    child = spawnSync(node[0] ?? '', [...node.slice(1), disk, mode], { encoding: 'utf8', cwd: repoRoot, timeout: 60_000 });
  } else {
    // Not allowed to mount here: a user namespace can, for a child.
    const script = 'unset NODE_OPTIONS; mount -t tmpfs -o size=64k tmpfs "$1" && shift && exec "$@"';
    child = spawnSync('unshare', ['-Urm', 'sh', '-c', script, 'sh', disk, ...node, disk, mode], { encoding: 'utf8', cwd: repoRoot, timeout: 60_000 });
    if (child.status !== 0) {
      t.pass('full-disk check not run', { skip: `cannot mount a tmpfs: mount said ${mount.stderr.trim()}; unshare -Urm said ${child.stderr.trim() || child.error?.message}` });
      return;
    }
  }
  t.equal(child.status, 0, `the child ran to its end: ${child.stderr}`);
  const report = JSON.parse(child.stdout) as Report;
  t.ok(report.written.length > 5, 'entries were written before the disk filled');
  t.equal(report.failures.length, 12, 'the full disk refused entries');
  t.ok(report.failures.every(f => f.code === 'ORCH_WRITE_FAILED'), 'each refusal surfaces as ORCH_WRITE_FAILED');
  t.ok(report.failures.some(f => (f.written ?? 0) > 0), 'some appends were cut short mid-entry (the case under test)');
  t.same(report.after.filter(n => !report.written.includes(n)), [], 'once space is freed, entries are written again');

  const lines = report.events.split('\n');
  t.equal(lines.pop(), '', 'events.jsonl ends with a newline');
  const parsed = lines.map(line => {
    try {
      return JSON.parse(line) as { message: string };
    } catch {
      return line;
    }
  });
  t.same(parsed.filter(p => typeof p === 'string'), [], 'every line of events.jsonl parses');
  const numbers = parsed.flatMap(p => (typeof p === 'string' ? [] : [Number(/^entry (\d+) /.exec(p.message)?.[1])]));
  t.same(numbers.filter(n => !Number.isNaN(n)), report.written, 'events.jsonl holds exactly the entries that were written, in order');

  const check = checkRunLog(report.markdown);
  t.same(check, { problems: [], runs: 1, closedRuns: 1 }, 'the markdown is whole: every entry and the summary after the refusals');
  // oneLine() folds text past 500 characters with an ellipsis.
  const inMarkdown = [...report.markdown.matchAll(/\*\*task\*\*: entry (\d+) /g)].map(m => Number(m[1]));
  t.same(inMarkdown, report.written, 'the markdown holds the same entries as events.jsonl: one refused by events.jsonl was taken back');
  for (const n of report.written) t.match(report.markdown, new RegExp(`\\*\\*task\\*\\*: entry ${n} x+…?\\n${n % 3 === 0 ? `  - detail one of ${n}\\n  - detail two y*…?\\n` : ''}`), `entry ${n} is in the markdown, whole`);
}

t.test('appends cut short by a full disk leave no partial line: every event parses and every markdown entry is whole', t => fullDisk(t, 'both'));

t.test('appends to events.jsonl cut short by a full disk are taken back: every line parses', t => fullDisk(t, 'events-only'));
