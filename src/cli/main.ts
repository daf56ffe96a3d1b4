#!/usr/bin/env node
// The `orch` command line. Commands are imported only when they run, so a read-only command never
// loads the watcher, the process runner or anything it does not use (startup stays light).
import { Command, CommanderError } from 'commander';
import { exitCodeOf, renderError, setupColour, type GlobalOptions } from './output.js';

const EXAMPLES = `
Examples:
  $ orch init                      set up .isollm/ in this project
  $ orch validate                  check every config, spec and record file
  $ orch validate .isollm/tasks/fix-login.json
  $ orch --root ../other-project validate --json
`;

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

async function run(command: Command, action: (options: GlobalOptions) => Promise<number>): Promise<void> {
  const options = globals(command);
  setupColour(options);
  try {
    process.exitCode = await action(options);
  } catch (error) {
    process.stderr.write(`${renderError(error, options)}\n`);
    process.exitCode = exitCodeOf(error);
  }
}

export function buildProgram(): Command {
  const program = new Command('orch')
    .description('A filesystem-native task orchestrator: runs long, failure-prone commands over a queue of task files.')
    .option('--root <dir>', 'the project root (default: nearest folder upwards with .isollm/; or ORCH_ROOT)')
    .option('--json', 'machine-readable output')
    .option('--verbose', 'more detail; stack traces on errors')
    .option('--no-color', 'no colour (also when NO_COLOR is set or output is not a terminal)')
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError('(run orch --help for usage)')
    .exitOverride();

  program
    .command('init')
    .description('create .isollm/ (config, folders, an example task, editor schemas) and .gitignore entries; safe to run again')
    .option('--layout <layout>', 'state dir layout: .isollm or orchestrator/state', '.isollm')
    .option('--project <name>', 'project name for the config (default: the folder name)')
    .action(async (_opts, command: Command) => {
      const { initCommand } = await import('./commands/init.js');
      await run(command, options => initCommand(options));
    });

  program
    .command('validate [files...]')
    .description('check config, specs, records and inbox files against their schemas; exit 2 if any is invalid')
    .action(async (files: string[], _opts, command: Command) => {
      const { validateCommand } = await import('./commands/validate.js');
      await run(command, options => validateCommand(files, options));
    });

  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; a usage error is exit 2 (commander already printed it).
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`${renderError(error, {})}\n`);
    process.exitCode = exitCodeOf(error);
  }
}

await main(process.argv);
