// The live output of a remote attempt whose spool this machine can read (Slurm's shared filesystem):
// what the command has written so far to the spool's stdout and stderr is copied, as it grows, into the
// attempt's local output files, so `orch tail` and the board show it while the job runs. Bounded by
// the output cap, as the local runner's files are; at the end the collected files replace these.
import { appendFileSync, closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class OutputMirror {
  private readonly copied = { stdout: 0, stderr: 0 };
  private readonly spool: string;
  private readonly targets: { stdout: string; stderr: string };
  private readonly capBytes: number;

  constructor(spool: string, targets: { stdout: string; stderr: string }, capBytes: number) {
    this.spool = spool;
    this.targets = targets;
    this.capBytes = capBytes;
    // What the local files hold already was copied before (a run that followed this job and died).
    for (const stream of ['stdout', 'stderr'] as const) this.copied[stream] = statSync(targets[stream], { throwIfNoEntry: false })?.size ?? 0;
  }

  /** Copies what each stream has grown by since the last look. Never throws: a look that fails is tried again at the next. */
  copyNew(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      try {
        this.copyStream(stream);
      } catch {
        // The spool file not there yet, or the local disk refusing: the end's collect says what matters.
      }
    }
  }

  private copyStream(stream: 'stdout' | 'stderr'): void {
    const from = this.copied[stream];
    if (from >= this.capBytes) return;
    const fd = openSync(join(this.spool, stream), 'r');
    try {
      const size = fstatSync(fd).size;
      const upTo = Math.min(size, this.capBytes);
      if (upTo <= from) return;
      const bytes = Buffer.alloc(upTo - from);
      const read = readSync(fd, bytes, 0, bytes.length, from);
      if (read <= 0) return;
      appendFileSync(this.targets[stream], bytes.subarray(0, read));
      this.copied[stream] = from + read;
    } finally {
      closeSync(fd);
    }
  }
}
