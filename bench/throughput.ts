// throughput: N no-op tasks through `orch --once` (the built CLI, 8 workers), through a one-phase
// workflow and through the full default workflow (plan, plan review, implement and review one step,
// code review, quality gate; every phase a tiny `sh` command writing the minimal result). Baseline:
// throughput-floor.mjs doing, per task, the same number of durable writes, log appends and spawns
// (the same commands) as orch did in the same run, 8 tasks in flight. Both timed as whole processes.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskRecord, Workflow } from '../src/generated/types.js';
import { gateArgv } from '../src/runtime/gate-script.js';
import type { BenchContext, Benchmark } from './lib/context.js';
import { ORCH_CLI, timeProcess } from './lib/proc.js';
import { makeProject, specText } from './lib/state-fixture.js';
import { errorRow, ratio, summarizeRate, type Row } from './lib/stats.js';

const FLOOR = fileURLToPath(new URL('./baselines/throughput-floor.mjs', import.meta.url));
const WORKERS = 8;

const writeResult = (json: string): [string, ...string[]] => ['sh', '-c', `printf '%s' '${json}' > "$ORCH_RESULT_FILE"`];

const ONE_PHASE: Workflow = { run: ['true'] };
const FULL: Workflow = {
  plan: { command: writeResult('{"plan":[{"id":"S1","title":"the step","goal":"do it"}]}') },
  plan_review: { command: writeResult('{"outcome":"approved"}') },
  implement: { command: writeResult('{"outcome":"done"}') },
  step_review: { command: writeResult('{"outcome":"approved"}') },
  code_review: { command: writeResult('{"outcome":"approved"}') },
  quality_gate: { checks: { test: ['true'] } },
};

/** The argv orch runs for `phase` of `workflow`. */
function argvOf(workflow: Workflow, phase: TaskRecord['attempts'][number]['phase']): string[] {
  if (phase === 'quality_gate') return gateArgv(workflow.quality_gate?.checks ?? {}, [], false);
  if (phase === 'implement' && workflow.run !== undefined) return workflow.run;
  return workflow[phase]?.command ?? ['true'];
}

interface PerTask {
  writes: number;
  appends: number;
  spawns: string[][];
}

/**
 * What orch did per task in a finished project: record writes (rev) + 2 worker writes per attempt,
 * log appends, spawns. Anything but n DONE records named after their tasks is an anomaly worth
 * keeping: the project is copied aside and the error names what was found.
 */
function countPerTask(root: string, workflow: Workflow, n: number): PerTask {
  const dir = join(root, '.isollm', 'state', 'tasks');
  const names = readdirSync(dir).filter(name => name.endsWith('.json'));
  const records = names.map(name => ({ name, record: JSON.parse(readFileSync(join(dir, name), 'utf8')) as TaskRecord }));
  const odd = records.filter(({ name, record }) => record.state !== 'DONE' || name !== `${record.id}.json`);
  if (records.length !== n || odd.length > 0) {
    const kept = `${tmpdir()}/orch-bench-anomaly-${Date.now()}`;
    cpSync(root, kept, { recursive: true });
    const described = odd.map(({ name, record }) => `${name}: ${record.state}, last transition ${JSON.stringify(record.history.at(-1))}`).join('; ');
    throw new Error(`expected ${n} DONE records in ${root}, found ${records.length} files (${odd.length} odd: ${described}); project kept in ${kept}`);
  }
  const revs = records.reduce((sum, { record }) => sum + record.rev, 0);
  const attempts = records.reduce((sum, { record }) => sum + record.attempts.length, 0);
  const events = readFileSync(join(root, '.isollm', 'events.jsonl'), 'utf8').split('\n').filter(line => line.includes('"task_id"')).length;
  const first = records[0]?.record;
  return {
    writes: Math.round((revs + 2 * attempts) / n),
    appends: Math.round((2 * events) / n), // each entry: one line in the run log, one in events.jsonl
    spawns: (first?.attempts ?? []).map(a => argvOf(workflow, a.phase)),
  };
}

function freshProject(dir: string, workflow: Workflow, n: number): string {
  const root = makeProject(dir, { workflow, workers: WORKERS });
  for (let i = 0; i < n; i++) writeFileSync(join(root, '.isollm', 'tasks', `t${String(i).padStart(4, '0')}.json`), specText({ goal: `no-op task ${i}` }));
  return root;
}

async function measure(ctx: BenchContext, label: string, workflow: Workflow, n: number, reps: number, workDir = ctx.workDir): Promise<Row> {
  const orchRates: number[] = [];
  const floorRates: number[] = [];
  const cpu = { orchOwn: 0, orchAll: 0, floorOwn: 0, floorAll: 0, tasks: 0 };
  let perTask: PerTask | undefined;
  // A warm-up pair first (the disk cache, the per-task counts), except in --quick, which counts from its one pair.
  const first = ctx.quick ? 1 : 0;
  for (let i = first; i <= reps; i++) {
    const root = freshProject(join(workDir, `${label}-${i}`), workflow, n);
    const orch = await timeProcess([process.execPath, ORCH_CLI, '--once', '--json', '--root', root], { cwd: root, cpu: true });
    if (orch.code !== 0) throw new Error(`orch --once exited ${orch.code}: ${orch.stderr.slice(-1000)}`);
    perTask ??= countPerTask(root, workflow, n);
    const floorDir = join(workDir, `${label}-floor-${i}`);
    mkdirSync(floorDir, { recursive: true });
    const floor = await timeProcess([process.execPath, FLOOR, JSON.stringify({ dir: floorDir, tasks: n, inFlight: WORKERS, ...perTask })], { cpu: true });
    if (floor.code !== 0) throw new Error(`throughput floor exited ${floor.code}: ${floor.stderr.slice(-1000)}`);
    ctx.log(`throughput ${label} run ${i}${i === 0 ? ' (warm-up)' : ''}: orch ${(n / (orch.ms / 1000)).toFixed(1)} tasks/s, floor ${(n / (floor.ms / 1000)).toFixed(1)} tasks/s`);
    if (i === 0) continue;
    orchRates.push(n / (orch.ms / 1000));
    floorRates.push(n / (floor.ms / 1000));
    cpu.orchOwn += orch.cpu?.ownMs ?? Number.NaN;
    cpu.orchAll += orch.cpu?.withChildrenMs ?? Number.NaN;
    cpu.floorOwn += floor.cpu?.ownMs ?? Number.NaN;
    cpu.floorAll += floor.cpu?.withChildrenMs ?? Number.NaN;
    cpu.tasks += n;
  }
  const perTaskMs = (ms: number): string => (ms / cpu.tasks).toFixed(2);
  const subject = summarizeRate(orchRates);
  const baseline = summarizeRate(floorRates);
  const r = ratio(subject.p50, baseline.p50);
  return {
    bench: 'throughput',
    case: `${label}, ${n} tasks, ${WORKERS} workers`,
    unit: 'tasks/s',
    subject,
    baseline,
    ratio: `${r.toFixed(2)}×`,
    target: '≥ 0.8×',
    verdict: r >= 0.8 ? 'PASS' : 'FAIL',
    note:
      `per task: ${perTask?.writes} durable writes, ${perTask?.appends} log appends, ${perTask?.spawns.length} spawns; whole processes timed; ` +
      `CPU per task (user + system): orch ${perTaskMs(cpu.orchOwn)} ms itself, ${perTaskMs(cpu.orchAll)} ms with its commands; ` +
      `floor ${perTaskMs(cpu.floorOwn)} ms itself, ${perTaskMs(cpu.floorAll)} ms with its commands`,
  };
}

export const throughput: Benchmark = {
  name: 'throughput',
  about: 'no-op tasks through orch --once with 8 workers vs the same writes, appends and spawns, 8 in flight',
  async run(ctx) {
    // On tmpfs an fsync costs nothing: what is left of the gap there is CPU (issue 16).
    const tmpfs = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/orch-bench-') : undefined;
    const cases: [string, Workflow, number, string?][] = [
      ['one-phase', ONE_PHASE, ctx.quick ? 24 : 200],
      ['full default workflow', FULL, ctx.quick ? 8 : 48],
      ...(tmpfs === undefined ? [] : [['one-phase on tmpfs', ONE_PHASE, ctx.quick ? 24 : 200, tmpfs] satisfies [string, Workflow, number, string]]),
    ];
    const rows: Row[] = [];
    for (const [label, workflow, n, dir] of cases) {
      try {
        rows.push(await measure(ctx, label, workflow, n, ctx.quick ? 1 : 3, dir));
      } catch (error) {
        ctx.log(`throughput ${label}: ${(error as Error).message}`);
        rows.push(errorRow('throughput', `${label}, ${n} tasks, ${WORKERS} workers`, 'tasks/s', '≥ 0.8×', error));
      }
    }
    if (tmpfs !== undefined) rmSync(tmpfs, { recursive: true, force: true });
    return rows;
  },
};
