// Process groups on Linux: who is in one (from /proc), signalling it, and stopping it (TERM, a grace
// period, then KILL). Zombies are not counted as members: they hold no pipe and run no code, and
// our pid 1 may never reap the ones it inherits, so "empty" means "no member that is not a zombie".
import { readdirSync } from 'node:fs';
import { procError, readProcessStat, type ProcessStat } from '../store/process-identity.js';
import { faultPoint } from '../testing/faults.js';
import { setTimeout as delay } from 'node:timers/promises';
import { errnoCode } from '../errors.js';

/** How often a wait for a group to empty looks again. */
export const GROUP_POLL_MS = 25;
/** After SIGKILL, how long we wait for the kernel to take the members away before giving up. */
export const KILL_WAIT_MS = 5000;

export { readProcessStat, type ProcessStat } from '../store/process-identity.js';

/**
 * Every process of group `pgid` that is not a zombie, found by scanning /proc (field 5 of stat).
 * Throws (an OrchError) when /proc cannot be read (EMFILE): an empty list would be a false "gone".
 */
export function listGroupMembers(pgid: number): ProcessStat[] {
  const members: ProcessStat[] = [];
  let names: string[];
  try {
    faultPoint('proc.list', '/proc');
    names = readdirSync('/proc');
  } catch (error) {
    throw procError('/proc', error);
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcessStat(Number(name));
    if (stat !== undefined && stat.pgid === pgid && stat.state !== 'Z') members.push(stat);
  }
  return members;
}

/** True while group `pgid` has a member that is not a zombie. */
export function groupIsAlive(pgid: number): boolean {
  // kill(-pgid, 0) is the cheap answer for the common case, an empty group; it counts zombies, so a
  // "yes" is confirmed from /proc. If /proc cannot be read (EMFILE), the "yes" stands: a group taken
  // for empty while it runs would be left running.
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
  }
  try {
    return listGroupMembers(pgid).length > 0;
  } catch {
    return true;
  }
}

/** Sends `signal` to every member of group `pgid`. False when there was no one to signal. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    // ESRCH: the group is empty. EPERM: no member may be signalled by us (a setuid program): nothing
    // more we can do about those, and the caller's final check reports what is left.
    if (errnoCode(error) === 'ESRCH' || errnoCode(error) === 'EPERM') return false;
    throw error;
  }
}

/** Sends `signal` to one process. False when it is gone (or not ours to signal). */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ESRCH' || errnoCode(error) === 'EPERM') return false;
    throw error;
  }
}

/** Waits until `isGone()` is true or `ms` pass; true when it became true. Real time, polled. */
export async function waitUntil(isGone: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (isGone()) return true;
    if (Date.now() >= deadline) return false;
    await delay(Math.min(GROUP_POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

export const GROUP_STOP = { stopped: 'stopped', already_gone: 'already_gone', survived: 'survived' } as const;
export type GroupStop = (typeof GROUP_STOP)[keyof typeof GROUP_STOP];

/**
 * Stops every member of group `pgid`: SIGTERM, up to `graceMs` for them to leave, then SIGKILL.
 * `survived` when a member is still there KILL_WAIT_MS after SIGKILL (uninterruptible sleep).
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<GroupStop> {
  if (!groupIsAlive(pgid)) return GROUP_STOP.already_gone;
  if (!signalGroup(pgid, 'SIGTERM')) return GROUP_STOP.already_gone;
  if (await waitUntil(() => !groupIsAlive(pgid), graceMs)) return GROUP_STOP.stopped;
  signalGroup(pgid, 'SIGKILL');
  return (await waitUntil(() => !groupIsAlive(pgid), KILL_WAIT_MS)) ? GROUP_STOP.stopped : GROUP_STOP.survived;
}
