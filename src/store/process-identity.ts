// Who a process is, beyond its pid: pids are reused, so a process is the same one only when its pid,
// start time (clock ticks since boot) and boot id all match. Linux /proc is the source.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { errnoCode } from '../errors.js';

export interface ProcessIdentity {
  pid: number;
  start_time: number;
  boot_id: string;
  host: string;
}

/**
 * Field 22 (starttime) of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
 * itself contain ") " and spaces, so the fields are counted from the last ")".
 */
export function readStartTime(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ESRCH') return undefined;
    throw error;
  }
  const afterName = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // afterName[0] is field 3 (state), so field 22 is at index 19.
  const value = Number(afterName[19]);
  return Number.isFinite(value) ? value : undefined;
}

/** The state letter of /proc/<pid>/stat (R, S, Z…), or undefined when the process is gone. */
export function readProcessState(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
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
 * which we cannot see.
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
