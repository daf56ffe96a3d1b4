// A torture project on disk (no tests of its own): the project dir and a folder beside it that nothing
// may touch, its records, and the built CLI started, killed and resumed over it with a marker in its
// environment (how the oracle finds the run's processes in /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InboxDecision, OrchConfig, TaskRecord, TaskSpec } from '../../src/generated/types.js';
import { writeFileDurable } from '../../src/store/durable-write.js';
import { DEFAULT_RUN_LOG, layoutAt, statePaths, type StatePaths } from '../../src/store/paths.js';
import { ORCH_BIN } from '../fixtures/run-cli.js';
import { countedAttempts, expectedOutcome, type PlannedTask, TORTURE_CONFIG } from './workload.js';

/** Set on every orch process (and so on every command it runs): how the oracle finds them in /proc. */
export const MARKER_ENV = 'ORCH_TORTURE_ID';

export interface TortureProject {
  root: string;
  /** A directory beside the project that nothing may write to (the oracle compares it). */
  outside: string;
  marker: string;
  tasks: PlannedTask[];
}

/** `<dir>/project` with the torture config and `tasks`, and `<dir>/outside` with a few files in it. */
export function makeTortureProject(dir: string, tasks: PlannedTask[], config: Partial<OrchConfig> = {}): TortureProject {
  const root = join(dir, 'project');
  for (const sub of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', sub), { recursive: true });
  const full: OrchConfig = { ...TORTURE_CONFIG, project: 'torture', ...config };
  writeFileSync(join(root, '.isollm', 'config.json'), `${JSON.stringify(full, null, 2)}\n`);
  for (const task of tasks) writeSpec(root, task.id, task.spec);
  const outside = join(dir, 'outside');
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'secret.json'), '{"goal":"do not touch"}\n');
  writeFileSync(join(outside, 'sub', 'notes.txt'), 'outside the state dir\n');
  return { root, outside, marker: `torture-${randomBytes(6).toString('hex')}`, tasks };
}

export function writeSpec(root: string, id: string, spec: TaskSpec): void {
  writeFileSync(join(root, '.isollm', 'tasks', `${id}.json`), `${JSON.stringify(spec, null, 2)}\n`);
}

export function recordFile(root: string, id: string): string {
  return join(root, '.isollm', 'state', 'tasks', `${id}.json`);
}

export function readRecord(root: string, id: string): TaskRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(root, id), 'utf8')) as TaskRecord;
  } catch {
    return undefined;
  }
}

export function readRecords(root: string): Map<string, TaskRecord> {
  const dir = join(root, '.isollm', 'state', 'tasks');
  const records = new Map<string, TaskRecord>();
  if (!existsSync(dir)) return records;
  for (const name of readdirSync(dir)) {
    if (!/^[^.][^/]*\.json$/.test(name) || name.includes('.rejected-')) continue;
    const record = readRecord(root, name.slice(0, -'.json'.length));
    if (record !== undefined) records.set(record.id, record);
  }
  return records;
}

export interface OrchRun {
  child: ChildProcess;
  /** Resolves with the exit code and signal; stdout and stderr so far. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** The CLI the torture runs: the built one, or a snapshot of it (scripts/torture.ts, so a rebuild meanwhile cannot hit it). */
export function orchBin(): string {
  return process.env.ORCH_TORTURE_BIN ?? ORCH_BIN;
}

/**
 * Starts the built CLI in `root` with the marker (and `env`) in its environment; `prefix` runs it
 * through another command first (`setpriv --reuid=…`: as another user).
 */
export function startOrch(project: Pick<TortureProject, 'root' | 'marker'>, args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): OrchRun {
  const argv = [...prefix, process.execPath, orchBin(), ...args];
  const child = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    cwd: project.root,
    env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '', ORCH_CRASH_AT: '', [MARKER_ENV]: project.marker, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, output: () => output };
}

/** Runs the CLI to its end; rejects (after killing it) past `timeoutMs`. */
export async function runOrch(
  project: Pick<TortureProject, 'root' | 'marker'>,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; prefix?: string[] } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const run = startOrch(project, args, options.env, options.prefix);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>(resolve => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const ended = await Promise.race([run.exited, timedOut]);
  clearTimeout(timer);
  if (ended === 'timeout') {
    run.child.kill('SIGKILL');
    await run.exited;
    throw new Error(`orch ${args.join(' ')} did not end within ${timeoutMs} ms; output:\n${run.output().slice(-4000)}`);
  }
  return { ...ended, output: run.output() };
}

/** kill -9 and wait for the exit. */
export async function killNow(run: OrchRun): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  await run.exited;
}

/**
 * Drops an approval for every gated task waiting in AWAITING_HUMAN that has none pending, as the
 * inbox file `orch approve` would write (atomically). Returns the ids approved.
 */
export async function approveWaiting(root: string, tasks: readonly PlannedTask[], pending: Set<string>): Promise<string[]> {
  const approved: string[] = [];
  for (const task of tasks) {
    if (task.kind !== 'gated' || pending.has(task.id)) continue;
    const record = readRecord(root, task.id);
    if (record?.state !== 'AWAITING_HUMAN') continue;
    const decision: InboxDecision = {
      version: 1,
      rev: 1,
      decision_id: `torture-${task.id}-${randomBytes(3).toString('hex')}`,
      task_id: task.id,
      action: 'approve',
      against_rev: record.rev,
      created_at: new Date().toISOString(),
      actor: 'human',
    };
    await writeFileDurable(join(root, '.isollm', 'inbox', `${decision.decision_id}.json`), `${JSON.stringify(decision, null, 2)}\n`);
    pending.add(task.id);
    approved.push(task.id);
  }
  return approved;
}

/** Every difference between the records under `root` and what `tasks` must end as. */
export function outcomeProblems(root: string, tasks: readonly PlannedTask[], options: { excused?: RegExp } = {}): string[] {
  const problems: string[] = [];
  for (const task of tasks) {
    const read = readRecord(root, task.id);
    // Failed attempts the fault itself caused (a command that could not write its result on a full
    // disk) are real failures, retried as any other: they are left out of the comparison.
    const excused = options.excused;
    const record = read === undefined || excused === undefined ? read : { ...read, attempts: read.attempts.filter(a => !(a.reason === 'failed' && excused.test(a.error ?? ''))) };
    const expected = expectedOutcome(task);
    if (record === undefined) {
      problems.push(`${task.id} (${task.kind}): no record`);
      continue;
    }
    if (record.state !== expected.state) problems.push(`${task.id} (${task.kind}): ${record.state}, expected ${expected.state}`);
    const got = countedAttempts(record);
    if (got.join(' ') !== expected.attempts.join(' ')) {
      const errors = record.attempts.filter(a => a.error !== undefined).map(a => `#${a.n} ${a.error}`);
      problems.push(`${task.id} (${task.kind}): attempts ${got.join(' ')}, expected ${expected.attempts.join(' ')}${errors.length > 0 ? ` (errors: ${errors.join('; ')})` : ''}`);
    }
  }
  return problems;
}

/** The state paths of the project at `root`, with the run log its config names (default if unreadable). */
export function projectPaths(root: string): StatePaths {
  const layout = layoutAt(root) ?? '.isollm';
  let runLog = DEFAULT_RUN_LOG;
  try {
    const config = JSON.parse(readFileSync(join(root, layout, 'config.json'), 'utf8')) as { run_log?: unknown };
    if (typeof config.run_log === 'string') runLog = config.run_log;
  } catch {
    // A broken config is doctor's to report.
  }
  return statePaths(root, layout, runLog);
}
