// `orch` (watch and work until Ctrl+C) and `orch --once` (until nothing is runnable). Also `--resume`:
// the same start, said out loud — a stale session is only ever taken over on proof that its holder
// is dead, with or without the flag.
import type { RunEvent } from '../../generated/types.js';
import type { Orchestrator, RunResult } from '../../runtime/orchestrator.js';
import { projectPaths } from '../context.js';
import { bad, bold, dim, good, info, warn } from '../format/colour.js';
import { startLiveLines, type LiveLines } from '../format/live-lines.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface RunCommandOptions extends GlobalOptions {
  once?: boolean;
  resume?: boolean;
  polling?: boolean;
  /** Serve the board and the API while it runs. */
  serve?: boolean;
}

// A function, not a table built at import: colour is set up after the command's module is loaded.
function icon(level: RunEvent['level']): string {
  switch (level) {
    case 'info':
      return info('ℹ');
    case 'success':
      return good('✔');
    case 'warning':
      return warn('⚠');
    case 'error':
      return bad('✖');
    default: {
      const never: never = level;
      throw new Error(`unknown event level ${String(never)}`);
    }
  }
}

function echoLine(event: RunEvent): string {
  const time = dim(event.at.slice(11, 19));
  const details = (event.details ?? []).map(detail => `\n         ${dim('└')} ${detail}`).join('');
  return `${time} ${icon(event.level)} ${bold(event.category)} ${event.message}${details}`;
}

/** SIGINT/SIGTERM: the first stops taking work and ends the run cleanly; a second forces. */
function handleSignals(orchestrator: Orchestrator, onShutdown: 'stop' | 'finish'): () => void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      process.stderr.write(`\n${signal}: ${onShutdown === 'finish' ? 'letting running commands finish' : 'stopping running commands'}, then closing the run (again to force)\n`);
      orchestrator.stop(signal, onShutdown);
    } else {
      process.stderr.write(`${signal} again: forcing exit; run \`orch --resume\` to carry on\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

export async function runCommand(options: RunCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  const quiet = options.json === true;
  // On a terminal, one live line per running task stays below the log lines (startLiveLines).
  let live: LiveLines | undefined;
  const onLogEntry = quiet ? undefined : (event: RunEvent): void => (live === undefined ? println(echoLine(event)) : live.print(echoLine(event)));
  let orchestrator: Orchestrator;
  if (options.once === true) {
    const { startOrchestrator } = await import('../../runtime/orchestrator.js');
    orchestrator = await startOrchestrator(paths.root, { ...(onLogEntry !== undefined && { onLogEntry }) });
  } else {
    const { watchAndWork } = await import('../../runtime/watch-mode.js');
    orchestrator = await watchAndWork(paths.root, { ...(onLogEntry !== undefined && { onLogEntry }), ...(options.polling === true && { usePolling: true }) });
  }
  if (!quiet) {
    const mode = options.once === true ? 'until nothing is runnable' : 'watching for changes (Ctrl+C to stop)';
    println(dim(`orch ${options.resume === true ? 'resuming' : 'running'} in ${paths.root}: run ${orchestrator.session.runId}, ${mode}`));
  }
  // --serve: the board and the API beside the run, over the same files (never needed for correctness).
  const server = options.serve === true ? await import('../../serve/server.js').then(m => m.startServer(paths)) : undefined;
  if (server !== undefined && !quiet) println(`orch serve: ${server.url} · open once in your browser: ${server.link() ?? server.newLink()}`);
  const release = handleSignals(orchestrator, orchestrator.config.on_shutdown ?? 'stop');
  if (!quiet && process.stdout.isTTY === true) live = startLiveLines(process.stdout, paths.stateDir, () => orchestrator.engine.runningTasks());
  let result: RunResult;
  try {
    result = await orchestrator.done;
  } finally {
    live?.stop();
    live = undefined;
    release();
    await server?.close();
  }
  if (quiet) {
    printJson(result);
  } else {
    if (result.previousRunDied) println(warn('The previous run had ended abnormally; this run carried on from its state.'));
    println(
      `Done: ${result.done.length} completed, ${result.failed.length} failed, ${result.awaiting.length} waiting for a human` +
        `${result.costUsd > 0 ? `, $${result.costUsd.toFixed(2)}` : ''}.`,
    );
    println(`Run log: ${result.runLogPath}`);
    if (result.awaiting.length > 0) println(`Waiting for you: ${result.awaiting.join(', ')} — see ${bold('orch --review')}`);
  }
  return result.failed.length > 0 ? 1 : 0;
}
