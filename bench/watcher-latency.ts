// The watcher's share of drop-to-start, in-process: a spec renamed into tasks/ until its first command
// has been spawned, over N drops, beside what a bare fs.watch on tasks/ and the watcher's own hint see
// of the same rename, and when the engine's first write (the record) lands: all in one process and run.
// (bench/drop-to-start.ts measures the built CLI against a floor process; this one splits the figure.)
// The command is `sh -c ': > started/<id>'`, seen by a bare fs.watch on started/, so the figure holds
// the spawn but hardly any command start-up. Each drop waits for the previous task to be DONE, then
// IDLE_MS more: the passes the engine starts itself (a command ended, its own record writes seen by
// the watcher) are over when the spec lands, so what is measured is the watcher waking an idle engine.
// Run: npx tsx bench/watcher-latency.ts [N] [--polling]
//
// With --files F: the watcher alone, its cost per event with F files in state/tasks/ (the engine's
// record writes land there: temp file in .orch-tmp renamed in). For a bare fs.watch, chokidar as the
// watcher used it before (depth 0, files ignored: it still re-reads the whole folder, readdir and an
// lstat per entry, on every event) and watchStateDir: time to ready, rename to hint, CPU time from
// the rename until the process is quiet, and the same for a burst of 50 renames.
// Run: npx tsx bench/watcher-latency.ts --files 100000 [samples]
import { existsSync, watch as fsWatch, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchAndWork } from '../src/runtime/watch-mode.js';
import { statePaths } from '../src/store/paths.js';
import { watch as chokidarWatch } from 'chokidar';
import { ignoredFor, watchedFolders } from '../src/watcher/chokidar-events.js';
import { watchedPlaces } from '../src/watcher/classify.js';
import { watchStateDir } from '../src/watcher/state-watcher.js';

const filesAt = process.argv.indexOf('--files');
if (filesAt === -1) await measureDropToStart();
else await measureCostPerEvent(Number(process.argv[filesAt + 1] ?? 100_000), Number(process.argv[filesAt + 2] ?? 10));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise(resolve => setImmediate(resolve));
  }
}

async function measureDropToStart(): Promise<void> {
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
    [usePolling ? 'watcher hint (chokidar polling + coalescing)' : 'watcher hint (fs.watch + coalescing)', seen.hint],
    ['record created (engine pass, first write)', seen.record],
    ['first command spawned (drop-to-start)', seen.start],
  ];
  console.log(`${N} drops, ${usePolling ? 'polling' : 'inotify'}, node ${process.version}; ms after the rename`);
  for (const [label, times] of rows) {
    const latencies = [...dropped].map(([id, at]) => (times.get(id) ?? NaN) - at).filter(Number.isFinite);
    console.log(`${label.padEnd(44)} p50 ${percentile(latencies, 50).toFixed(2).padStart(7)}  p99 ${percentile(latencies, 99).toFixed(2).padStart(7)}  max ${Math.max(...latencies).toFixed(2).padStart(7)}  (n=${latencies.length})`);
  }
  rmSync(root, { recursive: true, force: true });
}

/** The watcher alone with `files` files in state/tasks/: per mode, ready, rename to hint, and CPU per event. */
async function measureCostPerEvent(files: number, samples: number): Promise<void> {
  const root = join(tmpdir(), `orch-watch-cost-${files}`); // kept between runs: writing 100,000 files takes a while
  const paths = statePaths(root);
  if (!existsSync(join(root, 'filled'))) {
    for (const dir of [paths.tasks, paths.inbox, paths.records]) mkdirSync(dir, { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(paths.records, `R${i}.json`), '{}');
    writeFileSync(join(root, 'filled'), '');
  }
  const staging = join(paths.records, '.orch-tmp');
  mkdirSync(staging, { recursive: true });
  const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));
  const cpuMs = (): number => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  /** Resolves at the start of the first 100 ms with under 1 ms of CPU (the libuv threadpool counts too). */
  const quiet = async (): Promise<number> => {
    for (;;) {
      const at = performance.now();
      const cpu = cpuMs();
      await sleep(100);
      if (cpuMs() - cpu < 1) return at;
    }
  };
  const modes: Record<string, (seen: (name: string) => void) => Promise<() => Promise<void>>> = {
    'bare fs.watch': async seen => {
      const watcher = fsWatch(paths.records, (_event, name) => name !== null && seen(name));
      return async () => watcher.close();
    },
    'chokidar (the watcher before)': async seen => {
      const places = watchedPlaces(paths);
      const watcher = chokidarWatch(watchedFolders(places), { ignoreInitial: true, depth: 0, atomic: false, followSymlinks: false, ignored: ignoredFor(places, false) });
      watcher.on('raw', (_event: string, name: unknown) => typeof name === 'string' && seen(name));
      await new Promise<void>(resolve => watcher.once('ready', () => resolve()));
      return () => watcher.close();
    },
    watchStateDir: async seen => {
      const watcher = watchStateDir(paths, { onHint: hint => hint.id !== undefined && seen(`${hint.id}.json`), onError: error => console.error(error) });
      await watcher.ready;
      return () => watcher.close();
    },
  };
  console.log(`${files} files in state/tasks/, ${samples} renames one at a time, then a burst of 50; node ${process.version}`);
  for (const [mode, open] of Object.entries(modes)) {
    for (const name of new Set([...Array.from({ length: samples }, (_, k) => `X${k}.json`), ...Array.from({ length: 50 }, (_, b) => `Y${b}.json`)])) rmSync(join(paths.records, name), { force: true });
    const seenAt = new Map<string, number>();
    const rss = process.memoryUsage().rss;
    const opening = performance.now();
    const close = await open(name => {
      if (!seenAt.has(name)) seenAt.set(name, performance.now());
    });
    const readyMs = performance.now() - opening;
    const rssMb = (process.memoryUsage().rss - rss) / 1e6;
    await quiet();
    const hint: number[] = [];
    const cpu: number[] = [];
    for (let k = 0; k < samples; k++) {
      const name = `X${k}.json`;
      writeFileSync(join(staging, name), '{}');
      await quiet();
      const cpu0 = cpuMs();
      const t0 = performance.now();
      renameSync(join(staging, name), join(paths.records, name));
      await until(`a hint for ${name}`, () => seenAt.has(name));
      hint.push((seenAt.get(name) ?? NaN) - t0);
      await quiet();
      cpu.push(cpuMs() - cpu0);
    }
    for (let b = 0; b < 50; b++) writeFileSync(join(staging, `Y${b}.json`), '{}');
    await quiet();
    const cpu0 = cpuMs();
    const t0 = performance.now();
    for (let b = 0; b < 50; b++) renameSync(join(staging, `Y${b}.json`), join(paths.records, `Y${b}.json`));
    await until('a hint for the last of the burst', () => seenAt.has('Y49.json'));
    const lastHint = (seenAt.get('Y49.json') ?? NaN) - t0;
    await quiet();
    const burstCpu = cpuMs() - cpu0;
    await close();
    console.log(
      `${mode.padEnd(30)} ready ${readyMs.toFixed(0).padStart(5)} ms, +${rssMb.toFixed(0).padStart(3)} MB | rename to hint p50 ${percentile(hint, 50).toFixed(2)} max ${Math.max(...hint).toFixed(2)} ms | CPU per rename p50 ${percentile(cpu, 50).toFixed(1)} max ${Math.max(...cpu).toFixed(1)} ms | burst of 50: last hint ${lastHint.toFixed(1)} ms, CPU ${burstCpu.toFixed(0)} ms`,
    );
  }
}
