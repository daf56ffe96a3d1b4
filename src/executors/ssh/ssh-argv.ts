// The OpenSSH client's argv for one host, and the remote shell text orch sends it. Every remote command
// goes through one multiplexed master connection per host (ControlMaster): after the first, a command
// costs a session on an open connection, not a TCP and key exchange.
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SshHost } from '../../generated/types.js';
import { OrchError } from '../../errors.js';
import { shellQuote } from '../../cli/format/text.js';

/** How long the master stays up after its last session (the run's next command reuses it). */
const CONTROL_PERSIST_S = 60;
/** Keepalives: a connection whose peer is gone is found dead within about 15 s. */
const SERVER_ALIVE_INTERVAL_S = 5;
const SERVER_ALIVE_COUNT_MAX = 3;

/** ssh's own failure (cannot connect, authentication, a dropped connection): not the remote command's code. */
export const SSH_FAILED = 255;

/**
 * The folder of orch's control sockets. Short on purpose: a unix socket path is limited to 108 bytes,
 * and ssh binds the ControlPath plus a 17-byte suffix first. Private (0700), and refused when another
 * user owns it (a socket there would carry our commands).
 */
export function controlDir(): string {
  const dir = join(tmpdir(), `orch-ssh-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (stat.uid !== userInfo().uid || (stat.mode & 0o077) !== 0) {
    throw new OrchError('ORCH_CONFIG_INVALID', `${dir} (orch's ssh control sockets) is not a private folder of this user`, {
      hint: `remove it, or make it yours with mode 0700 (chmod 700 ${dir})`,
    });
  }
  return dir;
}

/** What every ssh call of a run shares. */
export interface SshOptions {
  controlDir: string;
  connectTimeoutS: number;
}

/** `ssh [options] -- host command`: `command` is one shell line, run by the host's login shell. */
export function sshArgv(host: SshHost, options: SshOptions, command: string): string[] {
  const argv = [
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${Math.ceil(options.connectTimeoutS)}`,
    '-o', 'ControlMaster=auto',
    '-o', `ControlPath=${join(options.controlDir, '%C')}`,
    '-o', `ControlPersist=${CONTROL_PERSIST_S}`,
    '-o', `ServerAliveInterval=${SERVER_ALIVE_INTERVAL_S}`,
    '-o', `ServerAliveCountMax=${SERVER_ALIVE_COUNT_MAX}`,
    '-T',
  ];
  if (host.ssh_config !== undefined) argv.push('-F', host.ssh_config);
  if (host.identity_file !== undefined) argv.push('-i', host.identity_file);
  if (host.port !== undefined) argv.push('-p', String(host.port));
  if (host.user !== undefined) argv.push('-l', host.user);
  argv.push('--', host.host, command);
  return argv;
}

/** `ssh -O <control> host`: asks the master (check, exit). */
export function sshControlArgv(host: SshHost, options: SshOptions, control: 'check' | 'exit'): string[] {
  const argv = sshArgv(host, options, '');
  argv.splice(argv.length - 3, 3, '-O', control, '--', host.host);
  return argv;
}

/**
 * A path for the remote shell: `~/x` and a relative path stay relative to the login folder (where the
 * shell starts), so the home folder is never spelled out on this side.
 */
export function shPath(path: string): string {
  if (path === '~') return '.';
  return shellQuote(path.startsWith('~/') ? path.slice(2) : path);
}
