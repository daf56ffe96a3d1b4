// Watch mode (PRODUCT.md §6, §10: `orch` with no subcommand): the orchestrator stays alive, and three
// things start a new pass of the level-triggered engine at once: a watcher hint, the resync timer
// (every resync_interval_s, the safety net for events the kernel dropped), and a watcher error
// (logged, then the whole tree is looked at again). Nothing here decides anything about a task.
// A folder whose native watch fails (ENOSPC under load) is polled until it can be watched again: the
// run log says so once when it starts polling and once when it is watched again.
import { relative } from 'node:path';
import { errnoCode } from '../errors.js';
import { watchStateDir, type StateWatcher } from '../watcher/state-watcher.js';
import { startOrchestrator, type Orchestrator, type RunOptions, type RunResult } from './orchestrator.js';

/** Seconds between full resyncs when the config does not say (the schema's default). */
export const DEFAULT_RESYNC_INTERVAL_S = 60;

export interface WatchOptions extends RunOptions {
  /** Poll instead of inotify: for network filesystems and state dirs shared between hosts. */
  usePolling?: boolean;
  /** Polling interval in ms (default 100): its cost grows with the number of files over the interval. */
  pollIntervalMs?: number;
  /** For tests: hints are counted and dropped, so only the resync timer finds changes (missed events). */
  dropHints?: boolean;
}

export interface WatchingOrchestrator extends Orchestrator {
  /** Resolves once the folders are watched: a change after this is seen at once. */
  watcherReady: Promise<void>;
  watcher: StateWatcher;
  /** Settles when the run has ended and the watcher and timer are closed. */
  done: Promise<RunResult>;
}

function describe(error: unknown): string {
  const code = errnoCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Starts the orchestrator over `root` in watch mode; it runs until stop() or `signal`. */
export async function watchAndWork(root: string, options: WatchOptions = {}): Promise<WatchingOrchestrator> {
  const orchestrator = await startOrchestrator(root, { ...options, stayAlive: true, watched: true });
  const { engine, runLog } = orchestrator;
  const watcher = watchStateDir(orchestrator.paths, {
    onHint: hint => {
      // A hint with no id names a whole folder (the pending set overflowed): every file is looked at.
      if (options.dropHints !== true) engine.hint(hint.id === undefined ? undefined : hint.path);
    },
    onError: error => {
      engine.resync();
      runLog
        .entry({
          category: 'watcher',
          level: 'warning',
          message: `Watcher error, looking at every file again: ${describe(error)}`,
          details: ['events may have been missed; the full resync makes the state right'],
        })
        .catch(() => undefined);
    },
    onFallback: change => {
      const folder = `${relative(orchestrator.paths.root, change.folder) || '.'}/`;
      if (change.polling) engine.resync(); // what the failed watch may have missed
      runLog
        .entry(
          change.polling
            ? {
                category: 'watcher',
                level: 'warning',
                message: `Watcher error on ${folder}, polling it until it can be watched again: ${describe(change.error)}`,
                details: ['files dropped meanwhile are seen within a poll; every file is looked at again now'],
              }
            : { category: 'watcher', level: 'info', message: `${folder} is watched natively again` },
        )
        .catch(() => undefined);
    },
    ...(options.usePolling !== undefined && { usePolling: options.usePolling }),
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
  });
  // Changes made while the watcher was starting were seen by neither it nor, maybe, the first pass.
  const watcherReady = watcher.ready.then(() => engine.resync());

  let timer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearTimeout(timer);
      timer = undefined;
      await watcher.close();
    })();
    return closing;
  };
  // Re-armed after each tick, so a reloaded config's interval applies from the next one.
  const arm = (): void => {
    if (closing !== undefined) return;
    const seconds = engine.config.resync_interval_s ?? DEFAULT_RESYNC_INTERVAL_S;
    timer = setTimeout(() => {
      engine.resync();
      watcher.recheck().catch(() => undefined); // a folder replaced unannounced is watched again
      arm();
    }, seconds * 1000);
  };
  arm();

  const done = orchestrator.done.finally(close);
  return {
    ...orchestrator,
    watcher,
    watcherReady,
    done,
    stop(reason?: string) {
      orchestrator.stop(reason);
      void close();
    },
  };
}
