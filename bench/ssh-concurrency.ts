// 100 concurrent remote attempts from one coordinator (issue 17): this process holds 100 attempts at once
// on the ssh executor (two real sshds on 127.0.0.1, 50 slots each), each command sleeping a few seconds,
// and reports what the coordinator's side costs: the process's peak RSS while it holds them, and its
// CPU (its own, and the children it reaped: the ssh clients of the starts, watches, collects and removes;
// the hosts' sshd and commands are not counted). Baseline in the same run: the same 100 attempts on the
// local executor (the commands themselves are then this process's children). The attempts are driven
// through the executors directly: orch's `workers` is 1 to 20 (PRODUCT.md §3), so 100 at once cannot go
// through the engine. The issue sets no target for this one: it is told, beside the baseline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localExecutor, type Executor, type ExecutorOutcome, type ExecutorRun } from '../src/executors/executor.js';
import { SshExecutor } from '../src/executors/ssh/ssh-executor.js';
import { startSshd } from '../test/fixtures/sshd.js';
import type { BenchContext, Benchmark } from './lib/context.js';
import { reapedChildrenTicks, TICK_MS } from './lib/proc.js';
import { summarize, type Row } from './lib/stats.js';
import { teardowns } from './lib/teardowns.js';

const ATTEMPTS = 100;

/** One attempt's run: `sleep seconds`, its files under `dir`. */
function attemptRun(dir: string, i: number, seconds: number): ExecutorRun {
  const artifactsDir = join(dir, 'runs', `a${i}`);
  mkdirSync(artifactsDir, { recursive: true });
  const taskId = `c${String(i).padStart(3, '0')}`;
  const taskFile = join(dir, 'tasks', `${taskId}.json`);
  writeFileSync(taskFile, `{"goal": "attempt ${i}"}\n`);
  return {
    argv: ['sleep', String(seconds)],
    cwd: dir,
    env: {
      base: process.env,
      extra: {},
      context: {
        taskId, taskFile, recordFile: join(dir, 'state', `${taskId}.json`), phase: 'implement', attempt: 1, artifactsDir,
        resultFile: join(artifactsDir, 'result.json'), marker: { stateDir: dir, session: 'bench', attemptId: `${taskId}/1/1` },
      },
    },
    stdoutPath: join(artifactsDir, 'stdout.log'),
    stderrPath: join(artifactsDir, 'stderr.log'),
    outputCapBytes: 1 << 20,
    timeoutMs: 120_000,
  };
}

interface Cost {
  wallMs: number;
  ownCpuMs: number;
  childrenCpuMs: number;
  /** The process's peak RSS while it held them (absolute: a growth would depend on what ran before). */
  peakRssMiB: number;
}

/** Runs every attempt at once on `executor`; what it cost this process. Throws unless all succeeded. */
async function holdAll(executor: Executor, runs: ExecutorRun[]): Promise<Cost> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const cpu = process.cpuUsage();
  const children = reapedChildrenTicks() * TICK_MS;
  const began = performance.now();
  const outcomes: ExecutorOutcome[] = await Promise.all(runs.map(run => executor.run(run)));
  const wallMs = performance.now() - began;
  clearInterval(sampler);
  const used = process.cpuUsage(cpu);
  const failed = outcomes.filter(outcome => outcome.reason !== 'succeeded');
  if (failed.length > 0) throw new Error(`${failed.length} of ${runs.length} attempts did not succeed; first: ${failed[0]?.error ?? failed[0]?.reason}`);
  return { wallMs, ownCpuMs: (used.user + used.system) / 1000, childrenCpuMs: reapedChildrenTicks() * TICK_MS - children, peakRssMiB: peak / 2 ** 20 };
}

function row(label: string, unit: string, remote: number, local: number, note: string): Row {
  return { bench: 'ssh-concurrency', case: label, unit, subject: summarize([remote]), baseline: summarize([local]), ratio: `${(remote / local).toFixed(2)}×`, target: 'told (no target)', verdict: 'INFO', note };
}

export const sshConcurrency: Benchmark = {
  name: 'ssh-concurrency',
  about: `${ATTEMPTS} concurrent attempts on the ssh executor (two localhost sshds): the coordinator's RSS and CPU beside the same attempts run locally`,
  async run(ctx: BenchContext) {
    const seconds = ctx.quick ? 3 : 8;
    const cleanup = teardowns();
    try {
      const [first, second] = await Promise.all(['c1', 'c2'].map(alias => startSshd(cleanup.t, { alias, env: { SHLVL: '1' } })));
      if (first === undefined || second === undefined) throw new Error('two sshds were asked for');
      const dir = (name: string): string => {
        const path = join(ctx.workDir, name);
        mkdirSync(join(path, 'tasks'), { recursive: true });
        return path;
      };
      const slots = ATTEMPTS / 2;
      const ssh = new SshExecutor(
        {
          hosts: [
            { host: first.alias, ssh_config: first.configFile, workdir: dir('host-1'), slots },
            { host: second.alias, ssh_config: second.configFile, workdir: dir('host-2'), slots },
          ],
        },
        join(ctx.workDir, 'state'),
      );
      // A first attempt per host opens its master connection and copies the wrapper: not part of the figure.
      await holdAll(ssh, [attemptRun(dir('warm'), 0, 0), attemptRun(dir('warm'), 1, 0)]);
      // Remote first: the local baseline's peak then includes whatever the remote run left in the heap.
      const remote = await holdAll(ssh, Array.from({ length: ATTEMPTS }, (_, i) => attemptRun(dir('remote'), i, seconds)));
      const local = await holdAll(localExecutor, Array.from({ length: ATTEMPTS }, (_, i) => attemptRun(dir('local'), i, seconds)));
      await ssh.close();
      ctx.log(`ssh-concurrency: ${ATTEMPTS} attempts of sleep ${seconds}: remote ${(remote.wallMs / 1000).toFixed(1)} s wall, local ${(local.wallMs / 1000).toFixed(1)} s`);
      const note = `${ATTEMPTS} attempts at once, each \`sleep ${seconds}\``;
      return [
        row('peak RSS of the coordinator process', 'MiB', remote.peakRssMiB, local.peakRssMiB, `${note}; the benchmark's own process, remote first`),
        row('CPU of the coordinator process', 'ms', remote.ownCpuMs, local.ownCpuMs, `${note}; user + system of this process`),
        row('CPU of its reaped children', 'ms', remote.childrenCpuMs, local.childrenCpuMs, `${note}; remote: the ssh clients (the hosts' side not counted); local: the commands`),
        row('wall time, first start to last end', 'ms', remote.wallMs, local.wallMs, note),
      ];
    } finally {
      await cleanup.run();
    }
  },
};
