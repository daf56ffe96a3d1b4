// The marks file: each benchmark command appends "<ns since epoch> <task id>" (from `date +%s%N`) as
// its first act, so the moment a command started is known on the same clock as the drop.
import { closeSync, openSync, readSync, fstatSync, writeFileSync } from 'node:fs';
import { sleep } from './proc.js';

export class Marks {
  readonly path: string;
  private readonly seen = new Map<string, number>();
  private offset = 0;
  private rest = '';
  private readonly fd: number;

  constructor(path: string) {
    this.path = path;
    writeFileSync(path, '');
    this.fd = openSync(path, 'r');
  }

  /** The shell command that records a mark for the task in ORCH_TASK_ID, as argv. */
  command(): [string, ...string[]] {
    return ['sh', '-c', `date "+%s%N $ORCH_TASK_ID" >> '${this.path}'`];
  }

  private poll(): void {
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return;
    const buffer = Buffer.alloc(size - this.offset);
    const read = readSync(this.fd, buffer, 0, buffer.length, this.offset);
    this.offset += read;
    const lines = (this.rest + buffer.subarray(0, read).toString()).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const [ns, id] = line.trim().split(' ');
      if (ns !== undefined && id !== undefined && !this.seen.has(id)) this.seen.set(id, Number(BigInt(ns) / 1000n) / 1000);
    }
  }

  /** Wall-clock ms at which task `id`'s command wrote its mark. */
  async wait(id: string, timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const at = this.seen.get(id);
      if (at !== undefined) return at;
      if (Date.now() > deadline) throw new Error(`no mark from task ${id} within ${timeoutMs} ms (${this.path})`);
      await sleep(2);
    }
  }

  count(): number {
    this.poll();
    return this.seen.size;
  }

  close(): void {
    closeSync(this.fd);
  }
}
