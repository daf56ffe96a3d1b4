import t from 'tap';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { parseReadArgv } from '../../src/cli/read-argv.js';

/** The command that would run, its task id (show) and its options. */
interface View {
  command: string;
  id?: string;
  options?: object;
}

class Parsed extends Error {
  readonly view: View;
  constructor(view: View) {
    super('parsed');
    this.view = view;
  }
}

function quiet(command: Command): void {
  command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const sub of command.commands) quiet(sub);
}

/** What commander makes of `args`: the read command it would run, with its options; no action runs. */
async function commanderView(args: string[]): Promise<View> {
  const program = buildProgram();
  quiet(program);
  program.hook('preAction', (_program, action) => {
    const { review, summary, ...options } = action.optsWithGlobals<Record<string, unknown>>();
    const name = action.name() !== 'orch' ? action.name() : review === true ? 'review' : summary === true ? 'summary' : 'run';
    const id = action.args[0];
    throw new Parsed({ command: name, ...(name === 'show' && id !== undefined ? { id } : {}), options });
  });
  try {
    await program.parseAsync(['node', 'orch', ...args]);
  } catch (error) {
    if (error instanceof Parsed) return error.view;
    return { command: `usage error: ${(error as Error).message}` };
  }
  return { command: 'nothing ran' };
}

t.test('the plain read commands parse exactly as commander parses them', async t => {
  const cases = [
    ['status'],
    ['--review'],
    ['review'],
    ['summary'],
    ['--summary'],
    ['log'],
    ['show', 'fix-login'],
    ['status', '--json'],
    ['--json', 'status'],
    ['status', '--limit', '5', '--offset=2', '--fields', 'id,state'],
    ['--root', '/somewhere', '--review', '--no-color'],
    ['show', '--limit', '3', 'abc', '--verbose'],
    ['--verbose', 'log', '--json'],
    ['status', '--limit', '-1'],
    ['--review', '--review', '--json'],
    ['status', '--root=', '--json'],
    ['show', 'a b'],
    ['--fields=a=b', 'status'],
    ['status', '--limit', '1', '--limit', '2'],
    ['--no-color', 'summary', '--fields', '--json'],
  ];
  for (const args of cases) {
    const fast = parseReadArgv(args);
    t.ok(fast, `recognised: ${args.join(' ')}`);
    t.same(fast, await commanderView(args), `same as commander: ${args.join(' ')}`);
  }
});

t.test('everything else is left to commander: help, other commands, unknown or incomplete options', async t => {
  const cases = [
    [],
    ['--json'],
    ['-h'],
    ['status', '--help'],
    ['help', 'status'],
    ['status', 'extra'],
    ['show'],
    ['show', 'a', 'b'],
    ['--review', 'status'],
    ['--review', '--summary'],
    ['tail', 'x'],
    ['tail', '-f'],
    ['status', '--'],
    ['status', '--color'],
    ['status', '--json=1'],
    ['status', '--limit'],
    ['--once'],
    ['--yes', 'status'],
    ['--tasks', 'x.json'],
    ['Status'],
    ['validate'],
    ['approve', 'x'],
  ];
  for (const args of cases) t.equal(parseReadArgv(args), undefined, `left to commander: ${args.join(' ') || '(no arguments)'}`);
});
