// `orch` in a terminal: below the log lines, one live line per running task (task, phase, step,
// elapsed, the agent's last action, cost so far), redrawn every second and around every log line.
// Only on a TTY: piped output gets the plain log lines and nothing else.
import { join } from 'node:path';
import { adapterFor } from '../../agents/index.js';
import type { TaskRecord } from '../../generated/types.js';
import { openAttempt } from '../../machine/record.js';
import { readFileTail } from '../../runner/output-sink.js';
import { dim } from './colour.js';

/** How often the lines are redrawn. */
export const LIVE_REFRESH_MS = 1000;
/** How much of the end of an attempt's stdout is read for its last action. */
export const LAST_ACTION_BYTES = 16 * 1024;

/**
 * The last thing worth a person's eye in the tail of an agent's stdout (its adapter renders it).
 * `cut`: the tail starts mid-file, so its first line is a fragment and is left out.
 */
export function lastAction(provider: string | undefined, tail: string, cut = false): string | undefined {
  const adapter = adapterFor(provider);
  const lines = tail.split('\n').slice(cut ? 1 : 0, -1); // the last is unfinished (or empty)
  for (let i = lines.length - 1; i >= 0; i--) {
    const rendered = adapter.render(lines[i] ?? '').filter(line => line.kind !== 'info' && line.text.trim() !== '');
    const last = rendered.at(-1);
    if (last !== undefined) return last.text.trim().split('\n')[0];
  }
  return undefined;
}


function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** One line for a running task, or undefined when it has no open attempt. */
export function liveLine(stateDir: string, record: TaskRecord, now: number): string | undefined {
  const attempt = openAttempt(record);
  if (attempt === undefined) return undefined;
  const where = `${record.id} ${attempt.phase}${attempt.step_id === undefined ? '' : ` ${attempt.step_id}`}`;
  const tail = readFileTail(join(stateDir, attempt.artifacts_dir, 'stdout.log'), LAST_ACTION_BYTES);
  const action = lastAction(attempt.provider, tail.text, tail.cut);
  const cost = record.cost.usd > 0 ? ` · $${record.cost.usd.toFixed(2)}` : '';
  return `▶ ${where} · ${elapsed(now - Date.parse(attempt.started_at))}${cost}${action === undefined ? '' : ` · ${action}`}`;
}

export interface LiveLines {
  /** Prints a log line above the live lines. */
  print(text: string): void;
  stop(): void;
}

/** Draws live lines on `out` (a TTY) for whatever `running()` returns, until stop(). */
export function startLiveLines(out: NodeJS.WriteStream, stateDir: string, running: () => TaskRecord[]): LiveLines {
  let drawn = 0;
  const erase = (): void => {
    if (drawn > 0) out.write(`\u001b[${drawn}F\u001b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    // A terminal that reports no size (0 columns) gets a usual width.
    const width = Math.max(20, (out.columns || 100) - 1);
    const lines = running()
      .map(record => liveLine(stateDir, record, Date.now()))
      .filter((line): line is string => line !== undefined)
      .map(line => dim(line.length > width ? `${line.slice(0, width - 1)}…` : line));
    for (const line of lines) out.write(`${line}\n`);
    drawn = lines.length;
  };
  const timer = setInterval(() => {
    erase();
    draw();
  }, LIVE_REFRESH_MS);
  timer.unref();
  return {
    print(text) {
      erase();
      out.write(`${text}\n`);
      draw();
    },
    stop() {
      clearInterval(timer);
      erase();
    },
  };
}
