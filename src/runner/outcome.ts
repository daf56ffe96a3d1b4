// How one command ended, as the runner reports it. `interrupted` and `rate_limited` are not here:
// the first is found by --resume (no runner saw the end), the second is decided by classification.
import type { AttemptReason } from '../generated/types.js';

export const COMMAND_REASONS = {
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed_out',
  stalled: 'stalled',
  cancelled: 'cancelled',
} as const satisfies Record<string, AttemptReason>;
export type CommandReason = (typeof COMMAND_REASONS)[keyof typeof COMMAND_REASONS];

export interface CommandOutcome {
  reason: CommandReason;
  /** The leader's exit code; null when it was killed by a signal or never started. */
  exit_code: number | null;
  /** The signal that ended the leader (SIGTERM, SIGKILL…), or null. */
  signal: string | null;
  duration_ms: number;
  /** One line for people: why it did not succeed. */
  error?: string;
  /** The last OUTPUT_TAIL_BYTES of stdout and stderr together, in arrival order. */
  output_tail: string;
  /** Whether bytes were dropped from each file (the cap, or a write error). */
  truncated: { stdout: boolean; stderr: boolean };
  /** The errno code when the command could not be started (ENOENT, EACCES, E2BIG…). */
  spawn_error?: string;
  /** Why an output file stopped being written before the cap (ENOSPC…), if it did. */
  output_error?: string;
}
