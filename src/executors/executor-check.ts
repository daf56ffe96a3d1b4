// `orch doctor`'s look at the executors a config defines (specs/executors.md): each ssh host reached
// once through the same client options a run uses (its workdir, setsid, git for worktree tasks, the
// wrapper already there or to be copied), and for Slurm its client commands and the shared spool.
import { execa } from 'execa';
import { accessSync, constants, statSync } from 'node:fs';
import type { OrchConfig, SshHost } from '../generated/types.js';
import { shellQuote } from '../cli/format/text.js';
import { commandExists } from '../config/load-config.js';
import { DEFAULT_CONNECT_TIMEOUT_S } from './ssh/ssh-executor.js';
import { SSH_FAILED, controlDir, shPath, sshArgv } from './ssh/ssh-argv.js';
import { spoolWrapper } from './spool-wrapper.js';

export interface ExecutorFinding {
  /** A JSON pointer into the config. */
  pointer: string;
  severity: 'error' | 'warning';
  message: string;
  action: string;
}

export async function checkExecutors(config: OrchConfig, root: string, env: NodeJS.ProcessEnv = process.env): Promise<ExecutorFinding[]> {
  const findings: ExecutorFinding[] = [];
  const ssh = config.executors?.ssh;
  if (ssh !== undefined) {
    const options = { controlDir: controlDir(), connectTimeoutS: ssh.connect_timeout_s ?? DEFAULT_CONNECT_TIMEOUT_S };
    const results = await Promise.all(ssh.hosts.map(host => checkHost(host, options)));
    results.forEach((found, i) => findings.push(...found.map(f => ({ ...f, pointer: `/executors/ssh/hosts/${i}${f.pointer}` }))));
  }
  const slurm = config.executors?.slurm;
  if (slurm !== undefined) {
    for (const program of ['sbatch', 'squeue', 'scontrol', 'scancel']) {
      if (!commandExists(program, root, env)) findings.push({ pointer: '/executors/slurm', severity: 'error', message: `${program} is not found on PATH`, action: 'install the Slurm client (Debian: slurm-client) or put it on PATH' });
    }
    findings.push(...spoolDirFindings(slurm.spool_dir));
  }
  return findings;
}

/** What one host says to a single command: its workdir, setsid, git, and whether the wrapper is there. */
async function checkHost(host: SshHost, options: { controlDir: string; connectTimeoutS: number }): Promise<ExecutorFinding[]> {
  const workdir = host.workdir ?? '~';
  const probe = [
    `cd ${shPath(workdir)} || { echo no-workdir; exit 0; }`,
    'command -v setsid >/dev/null 2>&1 || echo no-setsid',
    'command -v git >/dev/null 2>&1 || echo no-git',
    `[ -f ${shellQuote(spoolWrapper().path)} ] || echo no-wrapper`,
  ].join('; ');
  const result = await execa('ssh', sshArgv(host, options, probe), { reject: false, stdin: 'ignore', timeout: (options.connectTimeoutS + 20) * 1000 });
  if (result.exitCode === SSH_FAILED || result.timedOut === true || result.exitCode !== 0) {
    const why = String(result.stderr ?? '').trim() || (result.timedOut === true ? 'no answer' : `exit code ${result.exitCode ?? '?'}`);
    return [{ pointer: '/host', severity: 'error', message: `${host.host} cannot be reached: ${why}`, action: `try \`ssh ${host.host} true\`${host.ssh_config === undefined ? '' : ` -F ${host.ssh_config}`}; orch needs it to work with no prompt (BatchMode)` }];
  }
  const said = new Set(String(result.stdout ?? '').split('\n'));
  const findings: ExecutorFinding[] = [];
  if (said.has('no-workdir')) findings.push({ pointer: '/workdir', severity: 'error', message: `${host.host} has no folder ${workdir}`, action: 'create it (a checkout of the project) or fix workdir' });
  if (said.has('no-setsid')) findings.push({ pointer: '/host', severity: 'error', message: `${host.host} has no setsid: the wrapper cannot run commands in a group of their own`, action: 'install util-linux on the host' });
  if (said.has('no-git')) findings.push({ pointer: '/host', severity: 'warning', message: `${host.host} has no git: tasks with isolation worktree cannot run there`, action: 'install git on the host, or use isolation none for its workflows' });
  if (said.has('no-wrapper') && !said.has('no-workdir')) findings.push({ pointer: '/host', severity: 'warning', message: `${host.host} does not have this version of the wrapper yet (${spoolWrapper().path})`, action: 'nothing to do: the first attempt there copies it' });
  return findings;
}

function spoolDirFindings(dir: string): ExecutorFinding[] {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    accessSync(dir, constants.W_OK);
    return [];
  } catch (error) {
    return [{ pointer: '/executors/slurm/spool_dir', severity: 'error', message: `${dir} cannot be written here: ${error instanceof Error ? error.message : String(error)}`, action: 'create it on the filesystem the compute nodes share, writable by this user' }];
  }
}
