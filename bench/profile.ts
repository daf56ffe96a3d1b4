// Profiles of the hot paths (`npm run bench -- --profile`): the orchestrator's CPU profile
// (node --cpu-prof) while it takes dropped specs with 1,000 tasks stored, while it runs 100 no-op
// tasks, and `orch status` over 10,000 records; then the system calls per drop (strace -f -c), which
// show the repeated reads, stats and fsyncs directly. Prints the summaries; writes nothing in the repo.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { formatProfile, summarizeProfile } from './lib/cpu-profile.js';
import { Marks } from './lib/marks.js';
import { ORCH_CLI, startProcess, timeProcess, waitIdle } from './lib/proc.js';
import { cachedProject, makeProject, populate, resetRunFiles, specText } from './lib/state-fixture.js';

const INCLUSIVE = [
  'reconcile', 'schedule', 'apply', 'loadSpecs', 'loadAll', 'loadDocument', 'readTextFile', 'validateDocument', 'parseJson',
  'updateDocument', 'writeFileDurable', 'withLock', 'settleInvalid', 'processInbox', 'runCommand', 'entry', 'hashBytes',
];

function latestProfile(dir: string): string {
  const name = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).sort().at(-1);
  if (name === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  return join(dir, name);
}

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `strace -c` output: the syscalls with their counts, most frequent first. */
function syscallCounts(file: string): { name: string; calls: number }[] {
  const rows: { name: string; calls: number }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const parts = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (parts.length >= 5 && /^\d/.test(parts[0] ?? '') && parts.at(-1) !== 'total') {
      const name = parts.at(-1) ?? '';
      const calls = Number(parts[3]);
      if (Number.isFinite(calls)) rows.push({ name, calls });
    }
  }
  return rows.sort((a, b) => b.calls - a.calls);
}

async function drops(root: string, marks: Marks, pid: number, n: number, prefix: string): Promise<void> {
  const staging = join(root, 'staging');
  mkdirSync(staging, { recursive: true });
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    writeFileSync(join(staging, `${id}.json`), specText({ goal: `profiled drop ${i}` }));
    await waitIdle(pid, { quietMs: 100 });
    renameSync(join(staging, `${id}.json`), join(root, '.isollm', 'tasks', `${id}.json`));
    await marks.wait(id);
  }
  await waitIdle(pid, { quietMs: 150 });
}

async function dropProfile(ctx: BenchContext, stored: number, n: number): Promise<string> {
  const work = join(ctx.workDir, `profile-drop-${stored}`);
  mkdirSync(work, { recursive: true });
  const marks = new Marks(join(work, 'marks'));
  const root = makeProject(join(work, 'orch'), { workflow: { run: marks.command() }, workers: 2 });
  populate(root, stored);
  const profDir = join(work, 'prof');
  const orch = startProcess([process.execPath, '--cpu-prof', `--cpu-prof-dir=${profDir}`, ORCH_CLI, '--root', root], { cwd: root });
  await orch.waitLine(/watching for changes/, 120_000);
  await drops(root, marks, orch.pid, 2, 'warm');
  await drops(root, marks, orch.pid, n, 'drop');
  await orch.stop('SIGINT');
  marks.close();
  return formatProfile(`orch watch mode, ${stored} tasks stored, ${n + 2} drops (whole process)`, summarizeProfile(latestProfile(profDir), { top: 20, inclusive: INCLUSIVE }));
}

/** What a path is, for counting I/O per kind of file. */
function pathClass(path: string, root: string, dropped: ReadonlySet<string>): string {
  const rel = path.startsWith(root) ? path.slice(root.length + 1) : path;
  if (rel === '' || !path.startsWith(root)) return path.startsWith('/proc/') ? '/proc (process identity)' : 'outside the project';
  const name = rel.split('/').at(-1) ?? '';
  const id = name.replace(/\.json$/, '');
  if (rel.includes('.orch-tmp')) return 'temp files (.orch-tmp)';
  if (rel.endsWith('.lock') || rel.includes('.lock/')) return 'lock dirs (*.lock)';
  if (rel === '.isollm/tasks') return 'tasks/ (the folder)';
  if (rel.startsWith('.isollm/tasks/')) return dropped.has(id) ? 'spec of the dropped task' : 'specs of other tasks';
  if (rel === '.isollm/state/tasks') return 'state/tasks/ (the folder)';
  if (rel.startsWith('.isollm/state/tasks/')) return dropped.has(id) ? 'record of the dropped task' : 'records of other tasks';
  if (rel.startsWith('.isollm/state/workers')) return 'worker files';
  if (rel === '.isollm/state/session.json') return 'session.json';
  if (rel === '.isollm/config.json') return 'config.json';
  if (rel.startsWith('.isollm/inbox')) return 'inbox/';
  if (rel.startsWith('.isollm/runs')) return 'runs/ (artifacts)';
  if (rel.endsWith('events.jsonl') || rel.endsWith('.md')) return 'run log + events.jsonl';
  return rel;
}

const TRACED = ['openat', 'statx', 'newfstatat', 'getdents64', 'pread64', 'pwrite64', 'fsync', 'rename', 'mkdir', 'rmdir', 'utimensat', 'unlink', 'link'] as const;

/** Counts of traced syscalls by path class, from `strace -f -y` output. */
function classifyTrace(file: string, root: string, dropped: ReadonlySet<string>): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (match === null) continue; // "<... resumed>" halves and signals
    const [, call = '', args = ''] = match;
    // fd calls name their file as `23</path>` (-y); path calls as their first string argument.
    const path = /^\d+<([^>]*)>/.exec(args)?.[1] ?? /"([^"]+)"/.exec(args)?.[1];
    if (path === undefined) continue;
    const cls = pathClass(path, root, dropped);
    const row = counts.get(cls) ?? new Map<string, number>();
    row.set(call, (row.get(call) ?? 0) + 1);
    counts.set(cls, row);
  }
  return counts;
}

async function dropSyscalls(ctx: BenchContext, stored: number, n: number): Promise<string> {
  const work = join(ctx.workDir, `strace-drop-${stored}`);
  mkdirSync(work, { recursive: true });
  const marks = new Marks(join(work, 'marks'));
  const root = makeProject(join(work, 'orch'), { workflow: { run: marks.command() }, workers: 2 });
  populate(root, stored);
  const totalsOut = join(work, 'totals.strace');
  const traceOut = join(work, 'paths.strace');
  const orch = startProcess([process.execPath, ORCH_CLI, '--root', root], { cwd: root });
  await orch.waitLine(/watching for changes/, 120_000);
  await drops(root, marks, orch.pid, 1, 'warm');
  const traced = async (args: string[], prefix: string): Promise<void> => {
    const strace = startProcess(['strace', '-f', ...args, '-p', String(orch.pid)]);
    await new Promise(resolve => setTimeout(resolve, 500)); // strace attaches to every thread
    await drops(root, marks, orch.pid, n, prefix);
    await strace.stop('SIGINT');
  };
  await traced(['-c', '-o', totalsOut], 'count');
  await traced(['-y', '-e', `trace=${TRACED.join(',')}`, '-o', traceOut], 'trace');
  await orch.stop('SIGINT');
  marks.close();
  const lines = [`system calls of orch per drop, ${stored} tasks stored (strace -f, the orchestrator's threads only, ${n} drops):`];
  lines.push('  all calls (strace -c), per drop:');
  for (const { name, calls } of syscallCounts(totalsOut).slice(0, 14)) lines.push(`    ${(calls / n).toFixed(0).padStart(8)}  ${name}`);
  const dropped = new Set(Array.from({ length: n }, (_, i) => `trace-${i}`));
  const byClass = classifyTrace(traceOut, root, dropped);
  const calls = TRACED.filter(call => [...byClass.values()].some(row => row.has(call)));
  lines.push('  file calls by kind of file, per drop:');
  lines.push(`    ${'file'.padEnd(28)}${calls.map(c => c.padStart(11)).join('')}`);
  const total = (row: Map<string, number>): number => [...row.values()].reduce((a, b) => a + b, 0);
  for (const [cls, row] of [...byClass.entries()].sort((a, b) => total(b[1]) - total(a[1]))) {
    lines.push(`    ${cls.padEnd(28)}${calls.map(c => ((row.get(c) ?? 0) / n).toFixed(1).padStart(11)).join('')}`);
  }
  return lines.join('\n');
}

async function throughputProfile(ctx: BenchContext, n: number): Promise<string> {
  const root = makeProject(join(ctx.workDir, 'profile-throughput'), { workflow: { run: ['true'] }, workers: 8 });
  for (let i = 0; i < n; i++) writeFileSync(join(root, '.isollm', 'tasks', `t${i}.json`), specText({ goal: `no-op ${i}` }));
  const profDir = join(ctx.workDir, 'profile-throughput-prof');
  const run = await timeProcess([process.execPath, '--cpu-prof', `--cpu-prof-dir=${profDir}`, ORCH_CLI, '--once', '--json', '--root', root], { cwd: root });
  if (run.code !== 0) throw new Error(`orch --once exited ${run.code}: ${run.stderr.slice(-500)}`);
  return formatProfile(`orch --once, ${n} one-phase no-op tasks, 8 workers (${run.ms.toFixed(0)} ms wall)`, summarizeProfile(latestProfile(profDir), { top: 20, inclusive: INCLUSIVE }));
}

async function statusProfile(ctx: BenchContext, count: number): Promise<string> {
  const root = cachedProject(count, { workflow: { run: ['true'] }, workers: 2 }, ctx.log);
  resetRunFiles(root);
  const profDir = join(ctx.workDir, `profile-status-${count}`);
  const run = await timeProcess([process.execPath, '--cpu-prof', `--cpu-prof-dir=${profDir}`, ORCH_CLI, 'status', '--limit', '20'], { cwd: root });
  if (run.code !== 0) throw new Error(`orch status exited ${run.code}: ${run.stderr.slice(-500)}`);
  return formatProfile(`orch status, ${count} records (${run.ms.toFixed(0)} ms wall)`, summarizeProfile(latestProfile(profDir), { top: 20, inclusive: INCLUSIVE }));
}

export async function runProfiles(ctx: BenchContext): Promise<string[]> {
  const out: string[] = [];
  const stored = ctx.quick ? 200 : 1000;
  ctx.log('profile: drop-to-start');
  out.push(await dropProfile(ctx, stored, ctx.quick ? 4 : 10));
  ctx.log('profile: throughput');
  out.push(await throughputProfile(ctx, ctx.quick ? 40 : 100));
  ctx.log('profile: orch status');
  out.push(await statusProfile(ctx, ctx.quick ? 1000 : 10000));
  if (hasStrace()) {
    ctx.log('profile: system calls per drop');
    out.push(await dropSyscalls(ctx, stored, ctx.quick ? 3 : 5));
  } else {
    out.push('strace is not installed: no system call counts (apt-get install strace)');
  }
  return out;
}
