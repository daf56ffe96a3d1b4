// Stopping a process group that a dead orchestrator left running (`orch --resume`). Pids and group ids
// are reused, so nothing is signalled on the strength of a number alone: the leader must be the very
// process recorded (pid + start time + boot id), and when it is gone, only members that started no
// earlier than it (its descendants, not strangers in a reused group id) are stopped, one by one.
import { hostname } from 'node:os';
import type { ProcessIdentity } from '../generated/types.js';
import { LIVENESS, bootId, livenessOf } from '../store/process-identity.js';
import {
  KILL_WAIT_MS,
  listGroupMembers,
  readProcessStat,
  signalGroup,
  signalProcess,
  waitUntil,
  type ProcessStat,
} from './process-group.js';
import { foreignMarkedGroups, identityOfMarked } from './session-marker.js';

export const STOP_RESULT = { stopped: 'stopped', already_gone: 'already_gone', not_ours: 'not_ours' } as const;
export type StopResult = (typeof STOP_RESULT)[keyof typeof STOP_RESULT];

/**
 * Stops the group recorded in `identity`: SIGTERM, `graceMs` for it to leave, then SIGKILL.
 * `already_gone` when nothing of it runs (or it ran on an earlier boot); `not_ours` when the pid now
 * belongs to another process, or the group ran on another host (we cannot see it): left untouched.
 */
export async function stopProcessGroup(identity: ProcessIdentity, graceMs: number): Promise<StopResult> {
  if (identity.host !== hostname()) return STOP_RESULT.not_ours;
  // Another boot: nothing of it can run, and start times (ticks since boot) do not compare.
  if (identity.boot_id !== bootId()) return STOP_RESULT.already_gone;
  const leader = livenessOf(identity);
  if (leader === LIVENESS.unknown) return STOP_RESULT.not_ours;
  if (leader === LIVENESS.alive) {
    // The recorded leader still runs, so group `pgid` is still the one it leads: signal the group.
    if (!signalGroup(identity.pgid, 'SIGTERM')) return STOP_RESULT.already_gone;
    if (!(await waitUntil(() => ourMembers(identity).length === 0, graceMs))) {
      signalGroup(identity.pgid, 'SIGKILL');
      await waitUntil(() => ourMembers(identity).length === 0, KILL_WAIT_MS);
    }
    return STOP_RESULT.stopped;
  }
  // Dead by proof. A live process that holds the pid with another start time is a stranger: its
  // group is not the recorded one (the kernel does not reuse a pid while it names a live group).
  const holder = readProcessStat(identity.pid);
  if (holder !== undefined && holder.state !== 'Z' && holder.start_time !== identity.start_time) return STOP_RESULT.not_ours;
  const members = ourMembers(identity);
  if (members.length === 0) return STOP_RESULT.already_gone;
  signalMembers(identity, members, 'SIGTERM');
  if (!(await waitUntil(() => ourMembers(identity).length === 0, graceMs))) {
    signalMembers(identity, ourMembers(identity), 'SIGKILL');
    await waitUntil(() => ourMembers(identity).length === 0, KILL_WAIT_MS);
  }
  return STOP_RESULT.stopped;
}

/** Live members of the recorded group that started no earlier than the recorded leader. */
function ourMembers(identity: ProcessIdentity): ProcessStat[] {
  return listGroupMembers(identity.pgid).filter(member => member.start_time >= identity.start_time);
}

/** Signals each member after checking, again, that it is the same process (start time unchanged). */
function signalMembers(identity: ProcessIdentity, members: ProcessStat[], signal: NodeJS.Signals): void {
  for (const member of members) {
    const now = readProcessStat(member.pid);
    if (now === undefined || now.start_time !== member.start_time || now.pgid !== identity.pgid) continue;
    signalProcess(member.pid, signal);
  }
}

export interface StoppedOrphan {
  pgid: number;
  /** The marker's attempt (`<task>/<generation>/<attempt>`) and the run that spawned it. */
  attemptId: string;
  session: string;
  result: StopResult;
}

/**
 * Stops every process group holding a process that a session other than `liveSession` spawned for
 * `stateDir` (the session marker: src/runner/session-marker.ts), whether or not a record names it.
 */
export async function stopForeignMarked(stateDir: string, liveSession: string | undefined, graceMs: number): Promise<StoppedOrphan[]> {
  const stopped: StoppedOrphan[] = [];
  for (const found of foreignMarkedGroups(stateDir, liveSession)) {
    stopped.push({ pgid: found.pgid, attemptId: found.attemptId, session: found.session, result: await stopProcessGroup(identityOfMarked(found), graceMs) });
  }
  return stopped;
}
