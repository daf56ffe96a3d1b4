// The full `orch` command line, parsed by commander: every command, --help, and every usage error.
// main.ts loads this module only when the arguments are not a plain read command (read-argv.ts).
// Commands are imported only when they run, so a command never loads the watcher, the process
// runner or anything else it does not use.
import { Command, CommanderError, Option } from 'commander';
import { OrchError } from '../errors.js';
import { exitCodeOf, renderError, runAction, type GlobalOptions } from './output.js';

const EXAMPLES = `
Examples:
  $ orch init                      set up .isollm/ in this project
  $ orch validate                  check every config, spec and record file
  $ orch validate .isollm/tasks/fix-login.json
  $ orch --root ../other-project validate --json
  $ orch status                    the session, every task, invalid files
  $ orch --review                  what waits for a human, its plan, and the commands that act on it
  $ orch retry --failed            retry every FAILED task (lists them, asks first; --yes to skip)
  $ orch --resume                  carry on after a crash (FAILED tasks stay FAILED: orch retry --failed)
`;

const RETRY_EXAMPLES = `
Examples:
  $ orch retry fix-login                   run it again from where it stopped, with fresh attempts
  $ orch retry fix-login --from plan --note "the API changed"
  $ orch retry --failed                    every FAILED task: lists them and asks first
  $ orch retry --failed --yes              the same without asking (scripts, CI)
`;

// Examples shown by each read command's --help.
const READ_EXAMPLES = {
  status: `
Examples:
  $ orch status
  $ orch status --json --limit 20 --offset 20
  $ orch status --fields id,state,last_error
`,
  show: `
Examples:
  $ orch show fix-login
  $ orch show fix-login --json --fields state,awaiting,last_error
  $ orch show fix-login --limit 5          the last 5 attempts and transitions
`,
  review: `
Examples:
  $ orch review                            (same as orch --review)
  $ orch review --json --fields id,reason,plan,commands
`,
  log: `
Examples:
  $ orch log                               the last run's section of the run log
  $ orch log --limit 3                     the last 3 runs
  $ orch log --json --limit 100            the last 100 events of events.jsonl
`,
  tail: `
Examples:
  $ orch tail fix-login                    the end of the latest attempt's stdout and stderr
  $ orch tail -f fix-login                 follow it until the attempt ends (or Ctrl+C)
  $ orch tail -f                           follow every running attempt
  $ orch tail --raw fix-login              an agent's stream-json/JSON events as written, not rendered
`,
  summary: `
Examples:
  $ orch summary                           (same as orch --summary)
  $ orch summary --json --fields counts,cost
`,
} as const;

/**
 * `orch --review` and `orch --summary`: the read commands as global flags. True when one was given
 * (and has run); the program's default action calls this before anything else it does.
 */
async function runReadFlag(command: Command): Promise<boolean> {
  const flags = command.opts<{ review?: boolean; summary?: boolean }>();
  if (flags.review === true) {
    const { reviewCommand } = await import('./commands/review.js');
    await run(command, options => reviewCommand(options));
    return true;
  }
  if (flags.summary === true) {
    const { summaryCommand } = await import('./commands/summary.js');
    await run(command, options => summaryCommand(options));
    return true;
  }
  return false;
}

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

function run(command: Command, action: (options: GlobalOptions) => Promise<number>): Promise<void> {
  return runAction(globals(command), action);
}

/**
 * The commander program. A global option added here that read commands take must also be added to
 * read-argv.ts, which parses the plain read commands without commander (test/cli/read-argv.ts checks
 * the two agree); until then such a command line simply goes through commander.
 */
export function buildProgram(): Command {
  const program = new Command('orch')
    .description('A filesystem-native task orchestrator: runs long, failure-prone commands over a queue of task files.')
    .option('--root <dir>', 'the project root (default: nearest folder upwards with .isollm/; or ORCH_ROOT)')
    .option('--json', 'machine-readable output')
    .option('--verbose', 'more detail; stack traces on errors')
    .option('--no-color', 'no colour (also when NO_COLOR is set or output is not a terminal)')
    .option('--review', 'list the tasks waiting for a human, with their plans (same as `orch review`)')
    .option('--summary', 'summarise the state dir: counts, cost, durations (same as `orch summary`)')
    .option('--limit <n>', 'read commands: show at most N rows (default 50; orch log: N runs, default 1)')
    .option('--offset <n>', 'read commands: skip the first N rows (paging)')
    .option('--fields <list>', 'read commands: only these comma-separated fields (columns, or JSON keys)')
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError('(run orch --help for usage)')
    .exitOverride();

  program
    .command('init')
    .description('create .isollm/ (config, folders, an example task, editor schemas) and .gitignore entries; safe to run again')
    .option('--layout <layout>', 'where files live: .isollm (everything in .isollm/, records in .isollm/state/) or orchestrator/state (config and specs in orchestrator/, records in orchestrator/state/)', '.isollm')
    .option('--project <name>', 'project name for the config (default: the folder name)')
    .addOption(new Option('--agent <agent>', 'the agent CLI the config drives (default: the first of claude, codex, gemini on PATH)').choices(['claude', 'codex', 'gemini', 'none']))
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

  // Human decisions (PRODUCT.md §8): applied now without an orchestrator, else queued in inbox/.
  const decisionHelp = {
    approve: 'approve a task waiting for a human: it goes on to the gated phase',
    reject: 'reject a task waiting for a human: it ends FAILED',
    retry: 'run a task again from a phase (--from), with fresh attempts; --failed: every FAILED task',
    replan: 'send a task back to planning',
    cancel: 'cancel a task (its running command is stopped)',
  } as const;
  for (const action of ['approve', 'reject', 'retry', 'replan', 'cancel'] as const) {
    const decision = program
      .command(action === 'retry' ? 'retry [id]' : `${action} <id>`)
      .description(decisionHelp[action])
      .option('--note <text>', 'why: kept in the history, and handed to the next attempt as feedback');
    if (action === 'retry') {
      decision
        .option('--from <phase>', 'the phase to run again (default: where the task stopped)')
        .option('--failed', 'retry every FAILED task (lists them and asks first, or --yes)')
        .option('--yes', 'with --failed: do not ask')
        .addHelpText('after', RETRY_EXAMPLES);
    }
    decision.action(async (id: string | undefined, _opts, command: Command) => {
      const { decideCommand, retryFailedCommand } = await import('./commands/decide.js');
      await run(command, options => {
        const failed = command.opts<{ failed?: boolean }>().failed === true;
        if (failed && id !== undefined) throw new OrchError('ORCH_USAGE', `orch retry takes a task id or --failed, not both (got ${id} and --failed)`, { hint: `orch retry ${id}, or orch retry --failed` });
        if (failed) return retryFailedCommand(options);
        if (id === undefined) throw new OrchError('ORCH_USAGE', 'orch retry needs a task id, or --failed to retry every FAILED task', { hint: 'orch retry ID [--from PHASE], or orch retry --failed [--yes]' });
        return decideCommand(action, id, options);
      });
    });
  }

  program
    .command('merge [id]')
    .description('take a DONE task\'s branch (orch/<id>) into your checkout, only when it is clean; a conflict aborts the merge and names the files')
    .option('--target [branch]', 'instead of a task\'s branch: the merge queue\'s target (default: the config\'s merge_target, orch/integration)')
    .action(async (id: string | undefined, _opts, command: Command) => {
      const { mergeCommand } = await import('./commands/merge.js');
      await run(command, options => mergeCommand(id, options));
    });

  program
    .command('serve')
    .description('serve the local API and live events over the state dir on 127.0.0.1 (token in <state>/serve.json); --open prints a one-time link for a browser')
    .option('--port <n>', 'the port (default: a free one)')
    .option('--socket <path>', 'listen on a unix socket (mode 0600) instead of a port; API clients only (Bearer token)')
    .option('--open', 'print the one-time link that gives a browser its session')
    .action(async (_opts, command: Command) => {
      const { serveCommand } = await import('./commands/serve.js');
      await run(command, options => serveCommand(options));
    });

  program
    .command('doctor')
    .description('check the state dir: invalid files, dead sessions, temp files, stale locks, records without specs, orphaned processes; exit 1 if any')
    .option('--fix', 'do the safe repairs: remove temp files of dead writers and stale locks, stop orphaned process groups')
    .action(async (_opts, command: Command) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      await run(command, options => doctorCommand(options));
    });

  program
    .command('clean')
    .description('remove artifacts of old runs (all but the newest --keep N), leftover refused/consumed files and archived copies of records that are gone; asks first')
    .option('--keep <n>', 'how many of the newest runs to keep (default 5)')
    .option('--worktrees', 'instead: remove the task worktrees no task needs (DONE, FAILED past worktree.keep_failed_h, no record) where nothing would be lost; branches stay')
    .option('--yes', 'do not ask')
    .action(async (_opts, command: Command) => {
      const { cleanCommand } = await import('./commands/clean.js');
      await run(command, options => cleanCommand(options));
    });

  program
    .command('clean-state')
    .description('same as --clean-state: remove records (and their archive and index), workers, inbox, runs and events.jsonl so every task starts over; asks first')
    .option('--yes', 'do not ask')
    .action(async (_opts, command: Command) => {
      const { cleanStateCommand } = await import('./commands/clean-state.js');
      await run(command, options => cleanStateCommand(options));
    });

  program
    .command('import <path>')
    .description('same as --tasks PATH: import task specs from a folder of JSON files, or a JSON/YAML file holding a list')
    .action(async (source: string, _opts, command: Command) => {
      const { importTasksCommand } = await import('./commands/import-tasks.js');
      await run(command, options => importTasksCommand(source, options));
    });

  // --clean-state and --tasks PATH: the flag forms of `orch clean-state` and `orch import PATH`.
  // (When the default watch action lands, these two dispatch first; everything else falls to it.)
  program
    .option('--clean-state', 'remove the machine-owned state so every task starts over (asks, or --yes; refused while an orch runs)')
    .option('--tasks <path>', 'import task specs from a folder of JSON files, or one JSON or YAML file holding a list')
    .option('--yes', 'answer yes instead of asking (--clean-state, clean, retry --failed)')
    .option('--once', 'work until nothing is runnable, then exit (1 if a task failed)')
    .option('--resume', 'carry on after a crash: take over the dead session, stop its leftover local commands (those on ssh hosts and in Slurm jobs are followed to their end), resume every task')
    .option('--polling', 'watch by polling (network filesystems, where inotify cannot see other hosts)')
    .option('--serve', 'serve the board and the API while it runs (as `orch serve`; prints the one-time link)')
    .action(async (_opts, command: Command) => {
      const flags = command.opts<{ cleanState?: boolean; tasks?: string }>();
      if (await runReadFlag(command)) return; // --review, --summary
      if (flags.cleanState === true) {
        const { cleanStateCommand } = await import('./commands/clean-state.js');
        await run(command, options => cleanStateCommand(options));
      } else if (flags.tasks !== undefined) {
        const { importTasksCommand } = await import('./commands/import-tasks.js');
        const source = flags.tasks;
        await run(command, options => importTasksCommand(source, options));
      } else {
        // No subcommand: the orchestrator itself (watch and work, or --once).
        const { runCommand } = await import('./commands/run.js');
        await run(command, options => runCommand({ ...options, ...command.opts<{ once?: boolean; resume?: boolean; polling?: boolean; serve?: boolean }>() }));
      }
    });

  // Read-only commands (src/cli/commands/{status,show,review,log,tail,summary}.ts).
  program
    .command('status')
    .description('the orchestrator session, one row per task (running first), counts per state, and every invalid file')
    .addHelpText('after', READ_EXAMPLES.status)
    .action(async (_opts, command: Command) => {
      const { statusCommand } = await import('./commands/status.js');
      await run(command, options => statusCommand(options));
    });

  program
    .command('show <id>')
    .description('everything about one task: spec, state, steps, attempts, history, cost, what it waits for')
    .addHelpText('after', READ_EXAMPLES.show)
    .action(async (id: string, _opts, command: Command) => {
      const { showCommand } = await import('./commands/show.js');
      await run(command, options => showCommand(id, options));
    });

  program
    .command('review')
    .description('the tasks waiting for a human: why, since when, and the exact commands that act on each')
    .addHelpText('after', READ_EXAMPLES.review)
    .action(async (_opts, command: Command) => {
      const { reviewCommand } = await import('./commands/review.js');
      await run(command, options => reviewCommand(options));
    });

  program
    .command('log')
    .description('the run log: the last run section(s) of the markdown log; --json: the last events of events.jsonl')
    .addHelpText('after', READ_EXAMPLES.log)
    .action(async (_opts, command: Command) => {
      const { logCommand } = await import('./commands/log.js');
      await run(command, options => logCommand(options));
    });

  program
    .command('tail [id]')
    .description("the output of a task's latest attempt (or of every running attempt); -f follows it until it ends")
    .option('-f, --follow', 'keep printing new output until the attempt ends (or Ctrl+C)')
    .option('--raw', "an agent client's output as it wrote it (default: its stream rendered for people)")
    .addHelpText('after', READ_EXAMPLES.tail)
    .action(async (id: string | undefined, _opts, command: Command) => {
      const { tailCommand } = await import('./commands/tail.js');
      await run(command, options => tailCommand(id, options));
    });

  program
    .command('summary')
    .description('the whole state dir in numbers: tasks per state, cost and tokens by role and model, durations')
    .addHelpText('after', READ_EXAMPLES.summary)
    .action(async (_opts, command: Command) => {
      const { summaryCommand } = await import('./commands/summary.js');
      await run(command, options => summaryCommand(options));
    });

  return program;
}

/** Parses `argv` (process.argv: node, script, args…) and runs the command it names; sets process.exitCode. */
export async function runProgram(argv: string[]): Promise<void> {
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
