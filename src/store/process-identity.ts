// Who a process is, beyond its pid: pids are reused, so a process is the same one only when its pid,
// start time (clock ticks since boot) and boot id all match. Linux /proc is the source.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { errnoCode, OrchError } from '../errors.js';
import { faultPoint } from '../testing/faults.js';

export interface ProcessIdentity {
  pid: number;
  start_time: number;
  boot_id: string;
  host: string;
}

/** The fields of /proc/<pid>/stat that orch uses. */
export interface ProcessStat {
  pid: number;
  /** Field 3: R, S, D, Z, T… */
  state: string;
  ppid: number;
  /** Field 5: the process group id. */
  pgid: number;
  /** Field 22: start time in clock ticks since boot. */
  start_time: number;
}

/**
 * The parsed /proc/<pid>/stat of one process, or undefined when it is gone. The command name
 * (field 2) is in parentheses and may itself contain ") " and spaces, so the fields are counted
 * from the last ")". A read that fails for another reason (EMFILE: out of descriptors) throws: it
 * proves nothing, and taking it for "gone" would let a live session or command pass for dead.
 */
export function readProcessStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    faultPoint('proc.read', `/proc/${pid}/stat`);
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw procError(`/proc/${pid}/stat`, error);
  }
  // fields[0] is field 3 (state), so field 5 is at index 2 and field 22 at index 19.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const start = Number(fields[19]);
  if (state === undefined || !Number.isFinite(pgid) || !Number.isFinite(start)) return undefined;
  return { pid, state, ppid, pgid, start_time: start };
}

/** A /proc read that failed on the system, not because the process is gone. */
export function procError(path: string, error: unknown): OrchError {
  return new OrchError('ORCH_INTERNAL', `cannot read ${path}: ${(error as Error).message}`, {
    cause: error,
    details: { file: path, errno: errnoCode(error) },
    hint: 'the process table could not be read (out of file descriptors?); nothing was taken for dead',
  });
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when the process is gone. */
export function readStartTime(pid: number): number | undefined {
  return readProcessStat(pid)?.start_time;
}

/** The state letter of /proc/<pid>/stat (R, S, Z…), or undefined when the process is gone. */
export function readProcessState(pid: number): string | undefined {
  return readProcessStat(pid)?.state;
}

let cachedBootId: string | undefined;
export function bootId(): string {
  cachedBootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

let cachedSelf: ProcessIdentity | undefined;
/** This process's identity (computed once: none of it changes while we run). */
export function selfIdentity(): ProcessIdentity {
  cachedSelf ??= { pid: process.pid, start_time: readStartTime(process.pid) ?? 0, boot_id: bootId(), host: hostname() };
  return cachedSelf;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  const start = readStartTime(pid);
  if (start === undefined) return undefined;
  return { pid, start_time: start, boot_id: bootId(), host: hostname() };
}

export const LIVENESS = { alive: 'alive', dead: 'dead', unknown: 'unknown' } as const;
export type Liveness = (typeof LIVENESS)[keyof typeof LIVENESS];

/**
 * Whether the process named by `identity` still runs. `dead` only on proof: another boot of this
 * host, no such pid, a different start time, or a zombie. `unknown` for another host's process,
 * which we cannot see. Throws (an OrchError) when /proc cannot be read.
 */
export function livenessOf(identity: Pick<ProcessIdentity, 'pid' | 'start_time' | 'boot_id' | 'host'>): Liveness {
  if (identity.host !== hostname()) return LIVENESS.unknown;
  if (identity.boot_id !== bootId()) return LIVENESS.dead;
  const start = readStartTime(identity.pid);
  if (start === undefined || start !== identity.start_time) return LIVENESS.dead;
  // Z: a zombie (exited, not yet reaped); X: dead, being torn down. Neither will ever write again.
  const state = readProcessState(identity.pid);
  if (state === 'Z' || state === 'X') return LIVENESS.dead;
  return LIVENESS.alive;
}
