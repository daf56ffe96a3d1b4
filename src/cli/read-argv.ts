// The read commands in their plain forms (`orch status`, `orch --review --json`, `orch show ID
// --limit 5`), recognised without commander: loading commander costs about as much as the rest of
// such a command's start. Anything else (help, another command, an unknown or repeated flag of
// another kind, a missing value, `--`) is left to commander (program.ts), so every other form, and
// every usage error, stays exactly commander's. test/cli/read-argv.ts checks both agree.
import type { ReadOptions } from './format/bounds.js';

/** The read commands this parser recognises (`tail` is left to commander: it has its own -f). */
export const FAST_READ_COMMANDS = ['status', 'review', 'summary', 'log', 'show'] as const;
export type FastReadCommand = (typeof FAST_READ_COMMANDS)[number];

export interface ReadInvocation {
  command: FastReadCommand;
  /** The task id of `show`. */
  id?: string;
  /** As commander's optsWithGlobals() gives them: `color` is true unless --no-color. */
  options: ReadOptions;
}

/** Program options that take a value (`--root DIR` or `--root=DIR`), and the key each sets. */
const VALUE_OPTIONS = { '--root': 'root', '--limit': 'limit', '--offset': 'offset', '--fields': 'fields' } as const;
/** Program options that are plain flags. */
const FLAG_OPTIONS = { '--json': 'json', '--verbose': 'verbose' } as const;
/** The global flags that are read commands themselves. */
const COMMAND_FLAGS = { '--review': 'review', '--summary': 'summary' } as const;

const has = <T extends object>(table: T, key: string): key is Extract<keyof T, string> => Object.hasOwn(table, key);

/** The read command `args` (process.argv without node and script) name, or undefined: ask commander. */
export function parseReadArgv(args: readonly string[]): ReadInvocation | undefined {
  const options: ReadOptions = { color: true };
  const operands: string[] = [];
  let flagCommand: FastReadCommand | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--no-color') {
      options.color = false;
    } else if (has(FLAG_OPTIONS, arg)) {
      options[FLAG_OPTIONS[arg]] = true;
    } else if (has(COMMAND_FLAGS, arg)) {
      // --review --summary: commander's default action picks one; leave that to it.
      if (flagCommand !== undefined && flagCommand !== COMMAND_FLAGS[arg]) return undefined;
      flagCommand = COMMAND_FLAGS[arg];
    } else if (arg.startsWith('--') && has(VALUE_OPTIONS, arg.split('=', 1)[0] ?? '')) {
      const name = arg.split('=', 1)[0] as keyof typeof VALUE_OPTIONS;
      // Like commander, a required value is the next argument whatever it looks like.
      const value = arg.length > name.length ? arg.slice(name.length + 1) : args[++i];
      if (value === undefined) return undefined; // commander says what is missing
      options[VALUE_OPTIONS[name]] = value;
    } else if (arg.startsWith('-')) {
      return undefined; // --help, --, -f, an unknown option, a flag of a write command
    } else {
      operands.push(arg);
    }
  }
  if (flagCommand !== undefined) return operands.length === 0 ? { command: flagCommand, options } : undefined;
  const [name, ...rest] = operands;
  const command = FAST_READ_COMMANDS.find(c => c === name);
  if (command === undefined) return undefined;
  if (command === 'show') return rest.length === 1 && rest[0] !== undefined ? { command, id: rest[0], options } : undefined;
  return rest.length === 0 ? { command, options } : undefined;
}
