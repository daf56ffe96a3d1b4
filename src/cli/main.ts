#!/usr/bin/env node
// The `orch` command line. Its start is kept light, because `orch status` and `orch --review` are
// typed all day: a plain read command (read-argv.ts) goes straight to its module; everything else
// loads commander (program.ts). Either way a command's module is imported only when it runs.
import { runAction } from './output.js';
import { parseReadArgv, type ReadInvocation } from './read-argv.js';

async function runRead(read: ReadInvocation): Promise<void> {
  const { command, options } = read;
  switch (command) {
    case 'status': {
      const { statusCommand } = await import('./commands/status.js');
      return runAction(options, statusCommand);
    }
    case 'review': {
      const { reviewCommand } = await import('./commands/review.js');
      return runAction(options, reviewCommand);
    }
    case 'summary': {
      const { summaryCommand } = await import('./commands/summary.js');
      return runAction(options, summaryCommand);
    }
    case 'log': {
      const { logCommand } = await import('./commands/log.js');
      return runAction(options, logCommand);
    }
    case 'show': {
      const { showCommand } = await import('./commands/show.js');
      return runAction(options, opts => showCommand(read.id ?? '', opts));
    }
    default: {
      const never: never = command;
      throw new Error(`unknown read command ${String(never)}`);
    }
  }
}

async function main(argv: string[]): Promise<void> {
  // `orch status | head -1`: the reader went away; that is not an error of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const read = parseReadArgv(argv.slice(2));
  if (read !== undefined) return runRead(read);
  const { runProgram } = await import('./program.js');
  return runProgram(argv);
}

await main(process.argv);
