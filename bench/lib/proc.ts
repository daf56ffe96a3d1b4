// Process helpers for the benchmarks: timing a whole process, reading a process's CPU ticks (to
// wait until it is idle between samples), and a wall clock comparable with `date +%s%N` in a child.
import { spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const ORCH_CLI = fileURLToPath(new URL('../../dist/src/bundle/main.js', import.meta.url));

export interface Timed {
  ms: number;
  code: number | null;
  /** Peak RSS in MiB, when measured with /usr/bin/time. */
  rssMiB?: number;
  /**
   * With `cpu`: user + system CPU in ms of the process itself (all its threads; sampled every 5 ms
   * while it runs, so up to one sample short) and of it with every descendant it waited for (its
   * commands), from this process's cutime + cstime, which grow when it is reaped.
   */
  cpu?: { ownMs: number; withChildrenMs: number };
  stdout: string;
  stderr: string;
}

/**
 * Runs argv to its end and times it from spawn() to 'exit'. With `rss`, it runs under
 * `/usr/bin/time -f %M` (the kernel's peak RSS of the process, from wait4) and reports it.
 */
export function timeProcess(argv: readonly string[], options: SpawnOptions & { rss?: boolean; input?: string; cpu?: boolean } = {}): Promise<Timed> {
  const rssFile = `/tmp/orch-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const full = options.rss === true ? ['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv] : [...argv];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const reapedBefore = reapedChildrenTicks();
    const child = spawn(full[0] ?? '', full.slice(1), { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let ownTicks = 0;
    const sampler = options.cpu === true ? setInterval(() => (ownTicks = cpuTicks(child.pid ?? 0) ?? ownTicks), 5) : undefined;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin?.end(options.input ?? '');
    child.on('error', reject);
    child.on('close', code => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      clearInterval(sampler);
      const cpu = options.cpu === true ? { ownMs: ownTicks * TICK_MS, withChildrenMs: (reapedChildrenTicks() - reapedBefore) * TICK_MS } : undefined;
      let rssMiB: number | undefined;
      if (options.rss === true) {
        try {
          rssMiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) / 1024;
        } catch {
          rssMiB = Number.NaN;
        }
      }
      resolve({ ms, code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ...(rssMiB !== undefined && { rssMiB }), ...(cpu !== undefined && { cpu }) });
    });
  });
}

/** A clock tick of /proc/<pid>/stat: USER_HZ is 100 on Linux whatever the kernel's HZ. */
export const TICK_MS = 10;

/** cutime + cstime of this process (fields 16 and 17): the CPU of the children it has reaped. */
export function reapedChildrenTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

/** utime + stime of `pid` in clock ticks (field 14 and 15 of /proc/pid/stat), or undefined if gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** Waits until `pid` has used no CPU for `quietMs` (ticks are 10 ms: a near-idle process reads as idle). */
export async function waitIdle(pid: number, options: { quietMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const quietMs = options.quietMs ?? 150;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let last = cpuTicks(pid);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(25);
    const now = cpuTicks(pid);
    if (now === undefined) return;
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
  }
  throw new Error(`process ${pid} did not go idle within ${options.timeoutMs ?? 120_000} ms`);
}

/**
 * Wall-clock milliseconds with sub-millisecond resolution, on the same clock as `date +%s%N` in a
 * child (CLOCK_REALTIME): the monotonic clock, offset once against Date.now() at a millisecond edge.
 */
let offsetMs: number | undefined;
export function wallMs(): number {
  if (offsetMs === undefined) {
    const first = Date.now();
    let edge = Date.now();
    while (edge === first) edge = Date.now();
    offsetMs = edge - performance.now();
  }
  return performance.now() + offsetMs;
}

/** Polls `check` every `everyMs` until it returns a value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined, options: { everyMs?: number; timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs ?? 60_000} ms waiting for ${what}`);
    await sleep(options.everyMs ?? 5);
  }
}

export interface Running {
  pid: number;
  /** Resolves with the first output line matching `pattern` (stdout or stderr). */
  waitLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGINT (or `signal`), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  output(): string;
}

/** Starts a long-running process whose output is collected (and so never blocks it). */
export function startProcess(argv: readonly string[], options: SpawnOptions = {}): Running {
  const child = spawn(argv[0] ?? '', argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    if (text.length > 1_000_000) text = text.slice(-500_000);
    for (const waiter of [...waiters]) {
      const match = text.split('\n').find(line => waiter.pattern.test(line));
      if (match !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
  return {
    pid: child.pid ?? -1,
    output: () => text,
    waitLine(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const existing = text.split('\n').find(line => pattern.test(line));
        if (existing !== undefined) return resolve(existing);
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${text.slice(-2000)}`)), timeoutMs);
        waiters.push({ pattern, resolve: line => (clearTimeout(timer), resolve(line)) });
        void exited.then(code => reject(new Error(`exited (${code}) before a line matching ${pattern}; output:\n${text.slice(-2000)}`)));
      });
    },
    async stop(signal = 'SIGINT', graceMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
