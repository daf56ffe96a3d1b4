// The live output of a remote attempt whose spool this machine can read (Slurm's shared filesystem):
// what the command has written so far to the spool's stdout and stderr is copied, as it grows, into the
// attempt's local output files, so `orch tail` and the board show it while the job runs. Bounded by
// the output cap, as the local runner's files are; at the end the collected files replace these.
import { appendFileSync, closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class OutputMirror {
  private readonly copied = { stdout: 0, stderr: 0 };
  /** Each spool file's size at the last look (growth past the cap is still growth). */
  private readonly seen = { stdout: 0, stderr: 0 };
  private readonly spool: string;
  private readonly targets: { stdout: string; stderr: string };
  private readonly capBytes: number;

  constructor(spool: string, targets: { stdout: string; stderr: string }, capBytes: number) {
    this.spool = spool;
    this.targets = targets;
    this.capBytes = capBytes;
    // What the local files hold already was copied before (a run that followed this job and died).
    for (const stream of ['stdout', 'stderr'] as const) this.copied[stream] = this.seen[stream] = statSync(targets[stream], { throwIfNoEntry: false })?.size ?? 0;
  }

  /**
   * Copies what each stream has grown by since the last look; true when either grew (output past the
   * cap counts: the command is not stalled). Never throws: a look that fails is tried again at the next.
   */
  copyNew(): boolean {
    let grew = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      try {
        grew = this.copyStream(stream) || grew;
      } catch {
        // The spool file not there yet, or the local disk refusing: the end's collect says what matters.
      }
    }
    return grew;
  }

  private copyStream(stream: 'stdout' | 'stderr'): boolean {
    const fd = openSync(join(this.spool, stream), 'r');
    try {
      const size = fstatSync(fd).size;
      const grew = size > this.seen[stream];
      this.seen[stream] = size;
      const from = this.copied[stream];
      const upTo = Math.min(size, this.capBytes);
      if (upTo <= from) return grew;
      const bytes = Buffer.alloc(upTo - from);
      const read = readSync(fd, bytes, 0, bytes.length, from);
      if (read > 0) {
        appendFileSync(this.targets[stream], bytes.subarray(0, read));
        this.copied[stream] = from + read;
      }
      return grew;
    } finally {
      closeSync(fd);
    }
  }
}
