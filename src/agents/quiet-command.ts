// A hand-written command that runs an agent client in a mode that prints nothing until the end (`claude
// -p` with its default text output, `gemini -o json`, `aider --no-stream`): a stall timeout would kill
// any honest run longer than it, as the shipped claude example once did to every run over 10 minutes.
// Such a phase gets no stall timeout, and `orch validate` says so with the flag that would stream.
import { basename } from 'node:path';

export interface QuietCommand {
  /** What the command is, in a person's words ("claude -p without --output-format stream-json"). */
  readonly what: string;
  /** The flags that make it print as it works. */
  readonly streamWith: string;
}

/** The value of `--name X` or `--name=X` (or a short `-n X`) in argv; undefined when absent. */
function optionValue(argv: readonly string[], ...names: string[]): string | undefined {
  for (const [index, word] of argv.entries()) {
    for (const name of names) {
      if (word === name) return argv[index + 1];
      if (word.startsWith(`${name}=`)) return word.slice(name.length + 1);
    }
  }
  return undefined;
}

/** The client a command runs and why it is quiet; undefined when it prints as it works (or is no client orch knows). */
export function quietCommand(argv: readonly string[]): QuietCommand | undefined {
  const program = basename(argv[0] ?? '');
  const args = argv.slice(1);
  switch (program) {
    case 'claude': {
      if (!args.includes('-p') && !args.includes('--print')) return undefined;
      const format = optionValue(args, '--output-format') ?? 'text';
      return format === 'stream-json' ? undefined : { what: `claude -p with --output-format ${format}`, streamWith: '--output-format stream-json --verbose' };
    }
    case 'gemini': {
      const format = optionValue(args, '--output-format', '-o');
      return format === 'json' ? { what: 'gemini with --output-format json', streamWith: '--output-format stream-json' } : undefined;
    }
    case 'aider':
      return args.includes('--no-stream') ? { what: 'aider --no-stream', streamWith: '--stream (its default)' } : undefined;
    default:
      return undefined;
  }
}
