// The run's processes (no tests of its own): every orch process of a torture run, and so every
// command it starts, carries ORCH_TORTURE_ID in its environment; /proc/<pid>/environ finds them all,
// whoever their parent is now.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { readProcessStat } from '../../src/runner/process-group.js';
import { MARKER_ENV } from './project.js';
import { MARKER_STATE_DIR as STATE_DIR_ENV } from '../../src/runner/session-marker.js';

/** A live process whose environment carries `ORCH_TORTURE_ID=<marker>`. */
export interface MarkedProcess {
  pid: number;
  pgid: number;
  command: string;
  /**
   * Its ORCH_STATE_DIR, read from the same copy of the environment as the torture marker: a second
   * read could find a short command gone (or a zombie, whose environ reads empty) and so "unmarked".
   */
  stateDir: string | undefined;
}

/** Every live process (not a zombie) of the run marked `marker`, found through /proc/<pid>/environ. */
export function markedProcesses(marker: string): MarkedProcess[] {
  const needle = `${MARKER_ENV}=${marker}`;
  const found: MarkedProcess[] = [];
  for (const name of listProc()) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue;
    }
    const entries = environ.split('\0');
    if (!entries.includes(needle)) continue;
    const stat = readProcessStat(Number(name));
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').join(' ').replace(/\s+/g, ' ').trim().slice(0, 120);
    } catch {
      // gone meanwhile
    }
    const stateDir = entries.find(entry => entry.startsWith(`${STATE_DIR_ENV}=`))?.slice(STATE_DIR_ENV.length + 1);
    found.push({ pid: Number(name), pgid: stat.pgid, command, stateDir });
  }
  return found;
}

/** How long a fork of orch may take to reach its exec before the oracle judges it as it is. */
const FORK_EXEC_WAIT_MS = 10_000;

/**
 * markedProcesses, once no command is caught between its fork and its exec (or after
 * FORK_EXEC_WAIT_MS). Until its execve a command is a copy of the orchestrator: /proc shows node
 * running orch's command line with orch's first environment (the torture marker, none of the session
 * marker it is about to get), already the leader of its own group (libuv's setsid comes before the
 * exec). Killed -9 at that moment, orch leaves the child to go on to its exec, which a loaded
 * machine can delay by many milliseconds (seen at seed 20261213, beside a CI run): judged then, it
 * looked untracked.
 */
export async function settledMarkedProcesses(marker: string): Promise<MarkedProcess[]> {
  const until = Date.now() + FORK_EXEC_WAIT_MS;
  for (;;) {
    const found = markedProcesses(marker);
    if (!found.some(isForkBeforeExec) || Date.now() >= until) return found;
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

const NODE = realpathSync(process.execPath);

/**
 * Node in its own group with orch's first environment: a fork of the orchestrator before its exec.
 * Inside execve the new binary can show as /proc/<pid>/exe while the command line and environment
 * are still the parent's (seen with a /proc poller beside a parent spawning `true`): the command line
 * says it too.
 */
function isForkBeforeExec(p: MarkedProcess): boolean {
  if (p.pgid !== p.pid || p.stateDir !== undefined) return false;
  if (p.command.startsWith(`${process.execPath} `) || p.command.startsWith(`${NODE} `)) return true;
  try {
    return readlinkSync(`/proc/${p.pid}/exe`) === NODE;
  } catch {
    return false; // gone meanwhile
  }
}

function listProc(): string[] {
  try {
    return readdirSync('/proc');
  } catch {
    return [];
  }
}
