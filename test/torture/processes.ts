// The run's processes (no tests of its own): every orch process of a torture run, and so every
// command it starts, carries ORCH_TORTURE_ID in its environment; /proc/<pid>/environ finds them all,
// whoever their parent is now.
import { readdirSync, readFileSync } from 'node:fs';
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

function listProc(): string[] {
  try {
    return readdirSync('/proc');
  } catch {
    return [];
  }
}
