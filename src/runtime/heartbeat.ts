// The session's heartbeat (PRODUCT.md §7). A heartbeat that cannot be written (a full disk, no inodes
// left, a read-only remount) is a fault to ride out, not a takeover: on one host a session is judged by
// its process, not by its lease, and every write of the run is fenced by epoch anyway. Only proof that
// another orchestrator holds the dir (the epoch in session.json is no longer ours) stops the run.
import { errnoCode, hasCode } from '../errors.js';
import type { Session } from '../store/session.js';

export interface HeartbeatOptions {
  readonly session: Session;
  readonly intervalMs: number;
  /** Another orchestrator took the dir over: this run must stop. */
  readonly onTakeover: () => void;
  /** A line for the run log (and the terminal): the first failure of a fault, and its end. */
  readonly report: (level: 'warning' | 'info', message: string) => Promise<void>;
}

export interface Heartbeat {
  /** One heartbeat now; never throws (a fault is reported, a takeover handed to onTakeover). */
  beat(): Promise<void>;
  stop(): void;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  let faulted: string | undefined;
  let stopped = false;
  const beat = async (): Promise<void> => {
    try {
      await options.session.heartbeat('running');
      if (faulted !== undefined) {
        await options.report('info', `${options.session.path} is writable again: the heartbeat goes on`);
        faulted = undefined;
      }
    } catch (error) {
      if (hasCode(error, 'ORCH_EPOCH_FENCED')) {
        options.onTakeover();
        return;
      }
      const why = systemCode(error) ?? (error instanceof Error ? error.message : String(error));
      if (faulted === undefined) {
        await options.report('warning', `could not write ${options.session.path} (${why}): the run carries on, and the heartbeat is tried again every ${options.intervalMs / 1000}s`);
      }
      faulted = why;
    }
  };
  const timer = setInterval(() => {
    if (!stopped) void beat();
  }, options.intervalMs);
  timer.unref();
  return {
    beat,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The system error code (ENOSPC, EROFS…) at the root of a failed write, through OrchError causes. */
function systemCode(error: unknown): string | undefined {
  for (let at: unknown = error, depth = 0; at !== undefined && at !== null && depth < 8; depth++) {
    const code = errnoCode(at);
    if (code !== undefined && /^E[A-Z]+$/.test(code)) return code;
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}
