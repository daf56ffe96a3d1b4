// The native watcher's fallback for one folder whose fs.watch failed (ENOSPC: out of inotify watches
// under load; EMFILE; an error on a live watch): the folder is looked at every so often, a readdir
// and an lstat of each entry worth a look, and each entry that appeared, went or changed is reported.
// It needs no inotify at all, so it works exactly when the native watch cannot be had.
//
// Cost: one readdir and one lstat per accepted entry per look. The next look is scheduled after this
// one ends, at least FALLBACK_POLL_INTERVAL_MS later and at least FALLBACK_POLL_COST_FACTOR times as
// long as the look took, so a big folder (10,000 records) spends at most a fifth of its time polling.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** The shortest wait between two looks at a polled folder. */
export const FALLBACK_POLL_INTERVAL_MS = 250;
/** The wait is at least this many times the last look's duration. */
export const FALLBACK_POLL_COST_FACTOR = 4;

export interface FolderPollerOptions {
  /** Entry names worth a look; the others are not stat'ed. */
  accepts: (name: string) => boolean;
  /** An entry that appeared, went or changed since the last look. */
  onChange: (name: string) => void;
  /** After each look (the native watcher tries fs.watch again from here). */
  afterLook?: () => void;
  /** The shortest wait between looks (FALLBACK_POLL_INTERVAL_MS when not given). */
  intervalMs?: number;
}

export interface FolderPoller {
  /** Resolves once the first look is taken: a change after it is reported. */
  ready: Promise<void>;
  stop(): void;
}

/** Each accepted entry's stat signature; a folder that cannot be read (gone) has none. */
async function lookAt(dir: string, accepts: (name: string) => boolean): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return seen; // gone or replaced: its entries count as removed; the folder guard re-watches it
  }
  await Promise.all(
    names.filter(accepts).map(async name => {
      const stat = await fs.lstat(join(dir, name)).catch(() => undefined);
      if (stat !== undefined) seen.set(name, `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`);
    }),
  );
  return seen;
}

/** Polls `dir` until stop(). */
export function pollFolder(dir: string, options: FolderPollerOptions): FolderPoller {
  const minimum = options.intervalMs ?? FALLBACK_POLL_INTERVAL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let known = new Map<string, string>();

  const schedule = (tookMs: number): void => {
    if (stopped) return;
    timer = setTimeout(() => void look(), Math.max(minimum, FALLBACK_POLL_COST_FACTOR * tookMs));
  };
  const look = async (): Promise<void> => {
    const started = Date.now();
    const now = await lookAt(dir, options.accepts);
    if (stopped) return;
    for (const [name, signature] of now) if (known.get(name) !== signature) options.onChange(name);
    for (const name of known.keys()) if (!now.has(name)) options.onChange(name);
    known = now;
    options.afterLook?.();
    schedule(Date.now() - started);
  };

  const ready = (async () => {
    const started = Date.now();
    known = await lookAt(dir, options.accepts);
    schedule(Date.now() - started);
  })();

  return {
    ready,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
