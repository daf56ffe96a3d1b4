// drop-to-start: a spec renamed into the tasks folder → its command's first act (a `date +%s%N`
// mark), with 0, 1,000 and 10,000 finished tasks already stored. Subject: `orch` in watch mode (the
// built CLI). Baseline: drop-floor.mjs (fs.watch + read + one durable write + one log line + spawn),
// running at the same time on its own folder; drops alternate between the two, each one made while
// both processes are idle, so machine noise hits both alike.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Benchmark } from './lib/context.js';
import { Marks } from './lib/marks.js';
import { ORCH_CLI, startProcess, waitIdle, wallMs, type Running } from './lib/proc.js';
import { makeProject, populate, specText } from './lib/state-fixture.js';
import { ratio, summarize, type Row } from './lib/stats.js';

const FLOOR = fileURLToPath(new URL('./baselines/drop-floor.mjs', import.meta.url));

interface Target {
  name: string;
  proc: Running;
  tasksDir: string;
  staging: string;
  samples: number[];
}

async function drop(target: Target, marks: Marks, id: string): Promise<number> {
  const staged = join(target.staging, `${id}.json`);
  writeFileSync(staged, specText({ goal: `drop ${id}` }));
  await waitIdle(target.proc.pid, { quietMs: 100 });
  const t0 = wallMs();
  renameSync(staged, join(target.tasksDir, `${id}.json`));
  const at = await marks.wait(id);
  return at - t0;
}

async function measureSize(ctx: BenchContext, size: number, reps: number): Promise<Row> {
  const work = join(ctx.workDir, `drop-${size}`);
  mkdirSync(work, { recursive: true });
  const marks = new Marks(join(work, 'marks'));
  const root = makeProject(join(work, 'orch'), { workflow: { run: marks.command() }, workers: 2 });
  populate(root, size);
  const floorDir = join(work, 'floor');
  const targets: Target[] = [];
  const floor = startProcess([process.execPath, FLOOR, floorDir, JSON.stringify(marks.command())]);
  const orch = startProcess([process.execPath, ORCH_CLI, '--root', root], { cwd: root });
  try {
    await floor.waitLine(/^ready/);
    await orch.waitLine(/watching for changes/, 120_000);
    targets.push({ name: 'floor', proc: floor, tasksDir: join(floorDir, 'tasks'), staging: join(work, 'staging-floor'), samples: [] });
    targets.push({ name: 'orch', proc: orch, tasksDir: join(root, '.isollm', 'tasks'), staging: join(root, 'staging'), samples: [] });
    for (const t of targets) mkdirSync(t.staging, { recursive: true });
    const warmups = 2;
    for (let i = 0; i < reps + warmups; i++) {
      // Alternate who goes first, so a slow spell of the machine does not always land on one side.
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const ms = await drop(t, marks, `${t.name}-${i}`);
        if (i >= warmups) t.samples.push(ms);
      }
    }
    await waitIdle(orch.pid, { quietMs: 100 });
  } finally {
    await orch.stop('SIGINT');
    await floor.stop('SIGTERM');
    marks.close();
  }
  const [f, o] = targets;
  const subject = summarize(o?.samples ?? []);
  const baseline = summarize(f?.samples ?? []);
  const r50 = ratio(subject.p50, baseline.p50);
  const r99 = ratio(subject.p99, baseline.p99);
  ctx.log(`drop-to-start ${size}: orch p50 ${subject.p50.toFixed(1)} ms p99 ${subject.p99.toFixed(1)} ms; floor p50 ${baseline.p50.toFixed(1)} p99 ${baseline.p99.toFixed(1)}`);
  return {
    bench: 'drop-to-start',
    case: `${size.toLocaleString('en')} tasks stored`,
    unit: 'ms',
    subject,
    baseline,
    ratio: `${r50.toFixed(1)}× / ${r99.toFixed(1)}×`,
    target: 'p50 ≤ 1.5×, p99 ≤ 2.5×',
    verdict: r50 <= 1.5 && r99 <= 2.5 ? 'PASS' : 'FAIL',
    note: `${subject.n} drops each, alternating; the command is \`sh -c 'date +%s%N … >> marks'\``,
  };
}

export const dropToStart: Benchmark = {
  name: 'drop-to-start',
  about: 'spec renamed into tasks/ → command started, orch watch mode vs fs.watch + write + log + spawn',
  async run(ctx) {
    const plan: [number, number][] = ctx.quick ? [[0, 6], [1000, 3]] : [[0, 30], [1000, 15], [10000, 4]];
    const rows: Row[] = [];
    for (const [size, reps] of plan) rows.push(await measureSize(ctx, size, reps));
    return rows;
  },
};
