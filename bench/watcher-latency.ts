// The watcher's share of drop-to-start, in-process: a spec renamed into tasks/ until its first command
// has been spawned, over N drops, beside what a bare fs.watch on tasks/ and the watcher's own hint see
// of the same rename, and when the engine's first write (the record) lands: all in one process and run.
// (bench/drop-to-start.ts measures the built CLI against a floor process; this one splits the figure.)
// The command is `sh -c ': > started/<id>'`, seen by a bare fs.watch on started/, so the figure holds
// the spawn but hardly any command start-up. Each drop waits for the previous task to be DONE, then
// IDLE_MS more: the passes the engine starts itself (a command ended, its own record writes seen by
// the watcher) are over when the spec lands, so what is measured is the watcher waking an idle engine.
// Run: npx tsx bench/watcher-latency.ts [N] [--polling]
import { watch as fsWatch, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchAndWork } from '../src/runtime/watch-mode.js';
import { statePaths } from '../src/store/paths.js';
import { watchStateDir } from '../src/watcher/state-watcher.js';

const N = Number(process.argv[2] ?? 30);
const IDLE_MS = 300;
const usePolling = process.argv.includes('--polling');

const root = mkdtempSync(join(tmpdir(), 'orch-watch-latency-'));
const paths = statePaths(root);
for (const dir of [paths.tasks, paths.inbox, paths.records, paths.workers, paths.runs]) mkdirSync(dir, { recursive: true });
const started = join(root, 'started');
mkdirSync(started);
writeFileSync(
  paths.config,
  JSON.stringify({
    version: 1,
    project: 'watch-latency',
    workers: 2,
    resync_interval_s: 3600,
    workflows: { default: { implement: { command: ['sh', '-c', `: > "${started}/$ORCH_TASK_ID"`] } } },
  }),
);

const seen = { fsWatch: new Map<string, number>(), hint: new Map<string, number>(), record: new Map<string, number>(), start: new Map<string, number>() };
const stem = (name: string | null): string | undefined => (typeof name === 'string' && name.endsWith('.json') ? name.slice(0, -'.json'.length) : undefined);
const firstSeen = (times: Map<string, number>, id: string | undefined): void => {
  if (id !== undefined && !times.has(id)) times.set(id, performance.now());
};
const bare = fsWatch(paths.tasks, (_event, name) => firstSeen(seen.fsWatch, stem(name)));
const recordWatch = fsWatch(paths.records, (_event, name) => firstSeen(seen.record, stem(name)));
const startWatch = fsWatch(started, (_event, name) => firstSeen(seen.start, name ?? undefined));
// A second watcher like the one inside watch mode, to time the hint itself.
const probe = watchStateDir(paths, {
  onHint: hint => {
    if (hint.kind === 'spec') firstSeen(seen.hint, hint.id);
  },
  onError: error => console.error('probe watcher error', error),
  usePolling,
});

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise(resolve => setImmediate(resolve));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const orch = await watchAndWork(root, { usePolling });
await Promise.all([orch.watcherReady, probe.ready]);
const dropped = new Map<string, number>();
for (let i = 0; i < N; i++) {
  const id = `D${i}`;
  const temp = join(root, `${id}.draft`);
  writeFileSync(temp, JSON.stringify({ goal: `drop ${i}` }));
  dropped.set(id, performance.now());
  renameSync(temp, join(paths.tasks, `${id}.json`));
  await until(`the command of ${id} to start`, () => seen.start.has(id));
  await until(`${id} to be DONE`, () => orch.engine.records.get(id)?.state === 'DONE');
  await new Promise(resolve => setTimeout(resolve, IDLE_MS));
}
orch.stop('bench over');
await orch.done;
bare.close();
recordWatch.close();
startWatch.close();
await probe.close();

const rows: [string, Map<string, number>][] = [
  ['bare fs.watch event', seen.fsWatch],
  ['watcher hint (chokidar raw + coalescing)', seen.hint],
  ['record created (engine pass, first write)', seen.record],
  ['first command spawned (drop-to-start)', seen.start],
];
console.log(`${N} drops, ${usePolling ? 'polling' : 'inotify'}, node ${process.version}; ms after the rename`);
for (const [label, times] of rows) {
  const latencies = [...dropped].map(([id, at]) => (times.get(id) ?? NaN) - at).filter(Number.isFinite);
  console.log(`${label.padEnd(44)} p50 ${percentile(latencies, 50).toFixed(2).padStart(7)}  p99 ${percentile(latencies, 99).toFixed(2).padStart(7)}  max ${Math.max(...latencies).toFixed(2).padStart(7)}  (n=${latencies.length})`);
}
rmSync(root, { recursive: true, force: true });
