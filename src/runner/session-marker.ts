// The marker every command carries in its environment, and the search for marked processes that no
// live session owns (PRODUCT.md §7).
//
// A command starts the moment it is spawned; its identity reaches the record in the next write. An
// orchestrator killed in between leaves a command that no record names. The marker finds it: every
// command (and everything it starts, unless it clears its environment) carries ORCH_STATE_DIR and
// ORCH_SESSION, the state dir and the run that spawned it. /proc/<pid>/environ holds a process's
// environment as it was at exec, so a command cannot lose the marker by unsetting it later.
// `orch --resume` stops every marked process of its state dir that another (dead) run spawned;
// `orch doctor` reports them while no orchestrator runs.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { errnoCode } from '../errors.js';
import { hostname } from 'node:os';
import type { ProcessIdentity } from '../generated/types.js';
import { bootId, procError, readProcessStat, type ProcessStat } from '../store/process-identity.js';
import type { OrchCommandContext, OrchEnvName } from './command-env.js';

/** The state dir (absolute) whose orchestrator spawned the process. */
export const MARKER_STATE_DIR: OrchEnvName = 'ORCH_STATE_DIR';
/** The run id of the session that spawned it. */
const MARKER_SESSION: OrchEnvName = 'ORCH_SESSION';
/** `<task>/<generation>/<attempt>`: which attempt the process belongs to (for people and doctor). */
const MARKER_ATTEMPT: OrchEnvName = 'ORCH_ATTEMPT_ID';

/** What buildCommandEnv puts in the environment as the three variables above. */
export type SessionMarker = NonNullable<OrchCommandContext['marker']>;

/** The attempt part of the marker. */
export function attemptMarkerId(taskId: string, generation: number, attempt: number): string {
  return `${taskId}/${generation}/${attempt}`;
}

export interface MarkedProcess extends ProcessStat {
  session: string;
  attemptId: string;
}

/**
 * Every live process (not a zombie) whose environment marks it as spawned for `stateDir` by a session
 * other than `liveSession` (undefined: by any session). This process and its ancestors are left out:
 * an orch started by a command of a dead run inherits that run's marker. Processes of other users
 * cannot be read (EACCES) and are not ours. Throws when /proc itself cannot be listed: an empty
 * answer would be a false "nothing left".
 */
export function findForeignMarked(stateDir: string, liveSession: string | undefined): MarkedProcess[] {
  const ours = resolve(stateDir);
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch (error) {
    throw procError('/proc', error);
  }
  const spared = ancestorsOfSelf();
  const found: MarkedProcess[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (spared.has(pid)) continue;
    const marker = readMarker(pid);
    if (marker === undefined || marker.stateDir !== ours || marker.session === liveSession) continue;
    const stat = readProcessStat(pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue;
    found.push({ ...stat, session: marker.session, attemptId: marker.attemptId });
  }
  return found;
}

/**
 * The groups of findForeignMarked, each by its earliest marked member (the command itself while it
 * runs): stopping a group through it spares only processes older than the command, which are not its.
 */
export function foreignMarkedGroups(stateDir: string, liveSession: string | undefined): MarkedProcess[] {
  const earliest = new Map<number, MarkedProcess>();
  for (const found of findForeignMarked(stateDir, liveSession)) {
    const seen = earliest.get(found.pgid);
    if (seen === undefined || found.start_time < seen.start_time) earliest.set(found.pgid, found);
  }
  return [...earliest.values()];
}

/** The identity by which kill-group.ts stops a marked process's group. */
export function identityOfMarked(found: MarkedProcess): ProcessIdentity {
  return { pid: found.pid, pgid: found.pgid, start_time: found.start_time, boot_id: bootId(), host: hostname() };
}

/** The marker in /proc/<pid>/environ, or undefined (no marker, gone, or not ours to read). */
export function readMarker(pid: number): SessionMarker | undefined {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return undefined;
    throw procError(`/proc/${pid}/environ`, error);
  }
  // Most processes carry no marker: look for the bytes before splitting the whole environment.
  if (environ.indexOf(`${MARKER_SESSION}=`) === -1) return undefined;
  const values = new Map<string, string>();
  for (const entry of environ.toString('utf8').split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) values.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  const stateDir = values.get(MARKER_STATE_DIR);
  const session = values.get(MARKER_SESSION);
  if (stateDir === undefined || session === undefined || session === '') return undefined;
  return { stateDir, session, attemptId: values.get(MARKER_ATTEMPT) ?? '' };
}

function ancestorsOfSelf(): Set<number> {
  const pids = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    const stat = readProcessStat(pid);
    if (stat === undefined) break;
    pid = stat.ppid;
  }
  return pids;
}
