// A resident shell on a host (specs/executors.md): one long `sh` session on the host's multiplexed
// connection, fed start scripts one after another, so an attempt's start costs the script's own work
// on the host and not an ssh client, a channel and a login shell each time (issue 17: dispatch within
// 1.5× of a bare `ssh host true`). Each script runs in a subshell with stdin from /dev/null (it cannot
// eat the scripts after it) and stderr joined to stdout; a marker line with its exit code ends its
// answer. The link uses the shell only once it has answered, and goes back to one ssh per start when
// it is gone: a shell that dies mid-script is said as an unreachable host, as ssh would say it.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/** What a script answered: its exit code and its output (stdout and stderr, in order). */
export interface ShellAnswer {
  code: number;
  output: Buffer;
}

/** The shell died, or never answered. `sent`: the script was given to it, and may have run. */
export class ShellLostError extends Error {
  readonly sent: boolean;

  constructor(message: string, sent = true) {
    super(message);
    this.sent = sent;
  }
}

interface Pending {
  id: number;
  resolve: (answer: ShellAnswer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class HostShell {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Unique per shell: a script's output cannot fake the end of its answer. */
  private readonly token = randomBytes(8).toString('hex');
  private buffer = Buffer.alloc(0);
  private next = 0;
  private pending: Pending | undefined;
  private readonly queue: (() => void)[] = [];
  private stderr = '';
  private dead: Error | undefined;
  /** Resolves true once the shell has answered its first script, false if it died first. */
  readonly ready: Promise<boolean>;
  private isReady = false;
  private readonly timeoutMs: number;

  /** `argv`: ssh's arguments to run `exec sh` on the host. */
  constructor(argv: string[], timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.child = spawn('ssh', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => undefined); // a write after its end: 'close' says why
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-2000)));
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.on('error', () => undefined);
    // 'exit' comes first (its pipes may close later): a start after it goes by its own ssh.
    this.child.on('exit', () => this.lose(new ShellLostError(`the resident shell ended${this.stderr === '' ? '' : `: ${this.stderr.trim()}`}`)));
    this.child.on('close', () => this.lose(new ShellLostError(`the resident shell ended${this.stderr === '' ? '' : `: ${this.stderr.trim()}`}`)));
    this.ready = this.run(Buffer.from('true')).then(
      () => (this.isReady = true),
      () => false,
    );
  }

  /** True while the shell answers: a script given now is run by it. */
  get usable(): boolean {
    return this.isReady && this.dead === undefined;
  }

  /** True once it has died (or was given up): a new one is needed. */
  get lost(): boolean {
    return this.dead !== undefined;
  }

  /** Runs `script` (sh text) in a subshell of the resident shell; one at a time. */
  async run(script: Buffer): Promise<ShellAnswer> {
    if (this.pending !== undefined || this.queue.length > 0) await new Promise<void>(resolve => this.queue.push(resolve));
    if (this.dead !== undefined) throw new ShellLostError(this.dead.message, false);
    const id = this.next++;
    return new Promise<ShellAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        this.lose(new ShellLostError(`the resident shell gave no answer in ${Math.round(this.timeoutMs / 1000)} s`));
      }, this.timeoutMs);
      this.pending = { id, resolve, reject, timer };
      // The leading newline ends a last line without one, so the marker starts a line of its own.
      this.child.stdin.write(Buffer.concat([Buffer.from('(\n'), script, Buffer.from(`\n) </dev/null 2>&1; printf '\\n@@${this.token} ${id} %s\\n' "$?"\n`)]));
    });
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill('SIGTERM');
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const pending = this.pending;
    if (pending === undefined) return;
    const marker = Buffer.from(`\n@@${this.token} ${pending.id} `);
    const at = this.buffer.indexOf(marker);
    if (at < 0) return;
    const end = this.buffer.indexOf('\n', at + marker.length);
    if (end < 0) return;
    const code = Number(this.buffer.subarray(at + marker.length, end).toString('utf8'));
    const output = Buffer.from(this.buffer.subarray(0, at));
    this.buffer = this.buffer.subarray(end + 1);
    clearTimeout(pending.timer);
    this.pending = undefined;
    pending.resolve({ code, output });
    this.queue.shift()?.();
  }

  private lose(error: Error): void {
    if (this.dead !== undefined) return;
    this.dead = error;
    if (this.pending !== undefined) {
      clearTimeout(this.pending.timer);
      this.pending.reject(error);
      this.pending = undefined;
    }
    for (const waiter of this.queue.splice(0)) waiter();
  }
}
