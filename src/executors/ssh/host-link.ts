// Everything orch says to one host of the ssh pool, each a short command on the host's multiplexed
// connection: copy the wrapper, start an attempt, collect its output, kill its group, remove its spool.
// And one long command per host while attempts run there: the wrapper's `watch`, which prints each
// attempt's end as its exitcode file appears. The end of an attempt is that file, never a connection:
// when the watch's connection drops, the link connects again and the watch prints every end again.
import { execa } from 'execa';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { SshHost } from '../../generated/types.js';
import { shellQuote } from '../../cli/format/text.js';
import { spoolWrapper } from '../spool-wrapper.js';
import type { CollectedFile, RemoteEnd } from '../remote-attempt.js';
import { SSH_FAILED, shPath, sshArgv, sshControlArgv } from './ssh-argv.js';
import { START_EXIT, startScript, type StartScript } from './remote-script.js';
import { HOST_REPO, NO_HOST_WORKTREE, ensureRepoCommand, type HostGit } from './remote-git.js';
import { HostShell, ShellLostError } from './host-shell.js';

/** sshd's MaxSessions is 10 by default: keep the short commands of one connection below it (the watch and the resident shell hold one each). */
const MAX_SESSIONS = 7;
/** A short command (start, collect, kill) that has not answered in this long failed. */
const SHORT_COMMAND_TIMEOUT_MS = 60_000;
/** Waits between attempts to run the watch again after its connection dropped. */
const WATCH_RETRY_FIRST_MS = 500;
const WATCH_RETRY_MAX_MS = 15_000;

export interface ShortResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

export class UnreachableHostError extends Error {}

export interface HostLinkOptions {
  host: SshHost;
  controlDir: string;
  connectTimeoutS: number;
  /** Relative to workdir: this coordinator's spool root on the host. */
  spoolRoot: string;
  /** Told when the host answered or could not be reached. */
  onReachable: (reachable: boolean, error?: string) => void;
}

export class HostLink {
  readonly name: string;
  private readonly options: HostLinkOptions;
  private sessions = 0;
  private readonly queue: (() => void)[] = [];
  /** Ends the watch printed that no one waits for yet (the wait may start after the end). */
  private readonly ends = new Map<string, RemoteEnd>();
  private readonly waiters = new Map<string, (end: RemoteEnd) => void>();
  private watch: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private watchRetryMs = WATCH_RETRY_FIRST_MS;
  private watchTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Since when the watch could not connect (undefined while connected or not needed). */
  downSince: number | undefined;
  /** The workdir as an absolute path on the host, once asked (prepare). */
  private absoluteWorkdir: string | undefined;
  /** Whether the host's bare repository is known to exist (ensureRepo). */
  private repoReady = false;
  /** The resident shell that starts attempts (host-shell.ts), once the host has answered a prepare. */
  private shell: HostShell | undefined;

  constructor(options: HostLinkOptions) {
    this.options = options;
    this.name = options.host.host;
  }

  /** Runs `command` by the host's login shell, at most MAX_SESSIONS at once. Never throws for a failed command. */
  async exec(command: string, input?: Buffer): Promise<ShortResult> {
    await this.session();
    try {
      const argv = sshArgv(this.options.host, this.options, command);
      const result = await execa('ssh', argv, {
        reject: false,
        encoding: 'buffer',
        stripFinalNewline: false,
        timeout: SHORT_COMMAND_TIMEOUT_MS,
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      });
      const code = result.exitCode ?? null;
      const stderr = Buffer.from(result.stderr ?? []).toString('utf8').trim();
      if (code === SSH_FAILED || result.timedOut === true) this.options.onReachable(false, stderr || 'ssh failed');
      else this.options.onReachable(true);
      return { code, stdout: Buffer.from(result.stdout ?? []), stderr, timedOut: result.timedOut === true };
    } finally {
      this.sessions -= 1;
      this.queue.shift()?.();
    }
  }

  /**
   * The host's workdir as an absolute path there, asked once (with the wrapper copied when missing):
   * the attempt's paths are then known here before it starts, for its argv and environment.
   */
  async prepare(): Promise<string> {
    if (this.absoluteWorkdir !== undefined) return this.absoluteWorkdir;
    const result = await this.exec(`cd ${shPath(this.workdir)} || exit ${START_EXIT.noWorkdir}; pwd -P; [ -f ${shellQuote(spoolWrapper().path)} ] || exit ${START_EXIT.noWrapper}`);
    if (result.code !== 0 && result.code !== START_EXIT.noWrapper) throw this.failure(result, 'could not prepare the host');
    if (result.code === START_EXIT.noWrapper) await this.installWrapper();
    this.openShell();
    const path = result.stdout.toString('utf8').trim();
    if (!path.startsWith('/')) throw new Error(`${this.name} gave no absolute path for its workdir ${this.workdir}: ${JSON.stringify(path.slice(0, 200))}`);
    this.absoluteWorkdir = path;
    return path;
  }

  /** The host's bare repository for task branches, made once (needs git on the host). */
  async ensureRepo(): Promise<void> {
    if (this.repoReady) return;
    const result = await this.exec(`cd ${shPath(this.workdir)} && ${ensureRepoCommand()}`);
    if (result.code !== 0) throw this.failure(result, `could not make the repository ${HOST_REPO} (is git installed there?)`);
    this.repoReady = true;
  }

  /** What git needs to reach the host's repository (after prepare). */
  gitTarget(): HostGit {
    if (this.absoluteWorkdir === undefined) throw new Error(`${this.name}: prepare() first`);
    return { host: this.options.host, ssh: this.options, workdir: this.absoluteWorkdir };
  }

  /** Why git could not reach the host: UnreachableHostError when ssh itself cannot, else `error` as it is. */
  async explainGitFailure(error: unknown): Promise<Error> {
    const probe = await this.exec('true');
    if (probe.code === SSH_FAILED || probe.timedOut) return this.failure(probe, 'could not reach');
    return error instanceof Error ? error : new Error(String(error));
  }

  /** Runs `command` in the host's workdir; throws saying `what` failed. */
  async inWorkdirOrThrow(command: string, what: string): Promise<void> {
    const result = await this.exec(`cd ${shPath(this.workdir)} && ${command}`);
    if (result.code !== 0) throw this.failure(result, what);
  }

  /**
   * Starts an attempt; resolves with the command's process group on the host. Copies the wrapper first
   * when the host does not have it. Throws UnreachableHostError when ssh could not reach the host, and
   * an Error saying why for anything else.
   */
  async start(start: Omit<StartScript, 'wrapper' | 'workdir'>): Promise<number> {
    const workdir = this.absoluteWorkdir ?? this.workdir;
    const wrapperPath = this.absoluteWorkdir === undefined ? spoolWrapper().path : `${this.absoluteWorkdir}/${spoolWrapper().path}`;
    const script = startScript({ ...start, workdir, wrapper: wrapperPath });
    for (let copied = false; ; copied = true) {
      const result = await this.runScript(script);
      if (result.code === 0) {
        const pgid = Number(result.stdout.toString('utf8').trim());
        if (Number.isSafeInteger(pgid) && pgid > 1) return pgid;
        throw new Error(`the wrapper on ${this.name} printed no process group: ${JSON.stringify(result.stdout.toString('utf8').slice(0, 200))}`);
      }
      if (result.code === START_EXIT.noWrapper && !copied) {
        await this.installWrapper();
        continue;
      }
      throw this.failure(result, 'could not start the command');
    }
  }

  /**
   * Runs a start script: by the resident shell while it answers, else by its own ssh (`sh -s`), and a
   * new resident shell is opened for the next start. A shell lost after it was given the script is an
   * unreachable host, as an ssh that dropped mid-command is: the attempt goes elsewhere.
   */
  private async runScript(script: Buffer): Promise<ShortResult> {
    const shell = this.shell;
    if (shell?.usable !== true) {
      if (shell?.lost === true) this.openShell(true);
      return this.exec('sh -s', script);
    }
    try {
      const answer = await shell.run(script);
      this.options.onReachable(true);
      return { code: answer.code, stdout: answer.output, stderr: answer.code === 0 ? '' : answer.output.toString('utf8').trim(), timedOut: false };
    } catch (error) {
      if (!(error instanceof ShellLostError) || !error.sent) return this.exec('sh -s', script);
      return { code: SSH_FAILED, stdout: Buffer.alloc(0), stderr: error.message, timedOut: false };
    }
  }

  /** How the next start goes: through the resident shell, or by an ssh of its own. */
  get startsBy(): 'shell' | 'ssh' {
    return this.shell?.usable === true ? 'shell' : 'ssh';
  }

  /** Opens the resident shell (again, with `replace`, when the last one is gone). */
  private openShell(replace = false): void {
    if (this.closed || (this.shell !== undefined && !replace)) return;
    this.shell?.close();
    this.shell = new HostShell(sshArgv(this.options.host, this.options, 'exec sh'), SHORT_COMMAND_TIMEOUT_MS);
  }

  /** Resolves with the attempt's end when the watch sees its exitcode (the watch runs while anyone waits). */
  waitEnd(spoolName: string): Promise<RemoteEnd> {
    const known = this.ends.get(spoolName);
    if (known !== undefined) return Promise.resolve(known);
    const ended = new Promise<RemoteEnd>(resolve => this.waiters.set(spoolName, resolve));
    this.ensureWatch();
    return ended;
  }

  /** Stops waiting for an attempt's end (it was given up). */
  forget(spoolName: string): void {
    this.waiters.delete(spoolName);
    this.ends.delete(spoolName);
    if (this.waiters.size === 0) this.stopWatch();
  }

  /** The attempt's output files and result file, each cut at `capBytes`. */
  async collect(spool: string, capBytes: number): Promise<CollectedFile[]> {
    const result = await this.exec(this.inWorkdir(`collect ${shellQuote(spool)} ${capBytes}`));
    if (result.code !== 0) throw this.failure(result, 'could not collect the output');
    return parseCollected(result.stdout);
  }

  /** TERM to the attempt's group, `graceS` for it to end, then KILL to what is left. */
  async kill(spool: string, graceS: number): Promise<void> {
    const result = await this.exec(this.inWorkdir(`kill ${shellQuote(spool)} ${Math.max(0, Math.ceil(graceS))}`));
    if (result.code !== 0) throw this.failure(result, 'could not stop the command');
  }

  /** Removes an ended attempt's spool folder. */
  async remove(spool: string): Promise<void> {
    await this.exec(`cd ${shPath(this.workdir)} && rm -rf -- ${shellQuote(spool)}`);
  }

  /** Stops the watch and asks the master connection to exit. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWatch();
    this.shell?.close();
    await execa('ssh', sshControlArgv(this.options.host, this.options, 'exit'), { reject: false, stdin: 'ignore', timeout: 10_000 });
  }

  private get workdir(): string {
    return this.options.host.workdir ?? '.';
  }

  private inWorkdir(wrapperArgs: string): string {
    return `cd ${shPath(this.workdir)} && exec sh ${shellQuote(spoolWrapper().path)} ${wrapperArgs}`;
  }

  private async installWrapper(): Promise<void> {
    const target = shellQuote(spoolWrapper().path);
    const command = `cd ${shPath(this.workdir)} && mkdir -p .orch/bin && cat >${target}.$$ && chmod 755 ${target}.$$ && mv -f ${target}.$$ ${target}`;
    const result = await this.exec(command, spoolWrapper().source);
    if (result.code !== 0) throw this.failure(result, `could not copy the wrapper to ${spoolWrapper().path}`);
  }

  private failure(result: ShortResult, what: string): Error {
    if (result.code === SSH_FAILED || result.timedOut) return new UnreachableHostError(`${this.name} could not be reached: ${result.stderr || (result.timedOut ? 'no answer' : 'ssh failed')}`);
    if (result.code === START_EXIT.noWorkdir) return new Error(`${what} on ${this.name}: its workdir ${this.workdir} does not exist (executors.ssh.hosts)`);
    if (result.code === NO_HOST_WORKTREE) return new Error(`${what} on ${this.name}: the task's worktree there could not be made or reset (git worktree, in ${this.workdir}/${HOST_REPO})`);
    return new Error(`${what} on ${this.name} (exit code ${result.code}): ${result.stderr || result.stdout.toString('utf8').trim() || 'no message'}`);
  }

  private async session(): Promise<void> {
    if (this.sessions < MAX_SESSIONS) {
      this.sessions += 1;
      return;
    }
    await new Promise<void>(resolve => this.queue.push(resolve));
    this.sessions += 1;
  }

  private ensureWatch(): void {
    if (this.watch !== undefined || this.watchTimer !== undefined || this.closed) return;
    const argv = sshArgv(this.options.host, this.options, this.inWorkdir(`watch ${shellQuote(this.options.spoolRoot)}`));
    const child = spawn('ssh', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.watch = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    child.on('error', () => undefined); // 'close' follows, with the code
    createInterface({ input: child.stdout }).on('line', line => this.onWatchLine(line));
    child.on('close', (code, signal) => {
      if (this.watch !== child) return;
      this.watch = undefined;
      if (this.closed || this.waiters.size === 0) return;
      // Dropped (the host, its sshd, the network): the ends are files, so connect again and read them.
      const error = stderr.trim() || `the watch ended (exit code ${code ?? signal})`;
      this.downSince ??= Date.now();
      this.options.onReachable(false, error);
      this.watchTimer = setTimeout(() => {
        this.watchTimer = undefined;
        this.ensureWatch();
      }, this.watchRetryMs);
      this.watchRetryMs = Math.min(WATCH_RETRY_MAX_MS, this.watchRetryMs * 2);
    });
  }

  private onWatchLine(line: string): void {
    // Any line is the host answering: "." is the watch's heartbeat.
    if (this.downSince !== undefined || this.watchRetryMs !== WATCH_RETRY_FIRST_MS) this.options.onReachable(true);
    this.downSince = undefined;
    this.watchRetryMs = WATCH_RETRY_FIRST_MS;
    const match = /^(\S+) (\d+) (\S+)$/.exec(line);
    if (match === null) return;
    const [, name = '', code = '', attemptId = ''] = match;
    const end = { code: Number(code), attemptId };
    const waiter = this.waiters.get(name);
    if (waiter === undefined) {
      this.ends.set(name, end);
      return;
    }
    this.waiters.delete(name);
    waiter(end);
    if (this.waiters.size === 0) this.stopWatch();
  }

  private stopWatch(): void {
    if (this.watchTimer !== undefined) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    const child = this.watch;
    this.watch = undefined;
    this.downSince = undefined;
    child?.kill('SIGTERM');
  }
}

/** The wrapper's collect output: per file "<name> <size> <sent>\n" then <sent> bytes. */
export function parseCollected(output: Buffer): CollectedFile[] {
  const files: CollectedFile[] = [];
  let at = 0;
  while (at < output.length) {
    const newline = output.indexOf(0x0a, at);
    if (newline === -1) throw new Error('the collected output is cut short');
    const header = /^(\S+) (-?\d+) (\d+)$/.exec(output.subarray(at, newline).toString('utf8'));
    if (header === null) throw new Error(`the collected output has a bad header: ${JSON.stringify(output.subarray(at, newline).toString('utf8').slice(0, 100))}`);
    const sent = Number(header[3]);
    const bytes = output.subarray(newline + 1, newline + 1 + sent);
    if (bytes.length !== sent) throw new Error('the collected output is cut short');
    files.push({ name: header[1] ?? '', size: Number(header[2]), bytes });
    at = newline + 1 + sent;
  }
  return files;
}
