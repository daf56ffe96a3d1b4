import { resolve } from 'node:path';
import { initProject } from '../../project/init.js';
import type { AgentChoice, InitAgentName } from '../../project/init-agent.js';
import { bold, good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface InitCommandOptions extends GlobalOptions {
  layout?: '.isollm' | 'orchestrator/state';
  project?: string;
  agent?: InitAgentName;
}

export async function initCommand(options: InitCommandOptions): Promise<number> {
  const root = resolve(options.root ?? process.env.ORCH_ROOT ?? process.cwd());
  const report = await initProject(root, {
    ...(options.layout !== undefined && { layout: options.layout }),
    ...(options.project !== undefined && { project: options.project }),
    ...(options.agent !== undefined && { agent: options.agent }),
  });
  if (options.json === true) {
    printJson({ root, state_dir: report.paths.stateDir, created: report.created, kept: report.kept, ...(report.agent !== undefined && { agent: report.agent }) });
    return 0;
  }
  for (const path of report.created) println(`${good('created')} ${path}`);
  if (report.created.length === 0) println(`orch is already set up in ${root}: nothing to do`);
  if (report.agent !== undefined) println(agentLine(report.agent));
  println();
  println(`Next: copy ${bold(`${report.paths.stateDir}/examples/example-task.json`)} into ${bold(report.paths.tasks)}/ and run ${bold('orch')}.`);
  return 0;
}

function agentLine(choice: AgentChoice): string {
  switch (choice.why) {
    case 'asked':
      return choice.agent === 'none' ? 'The config runs no agent: fill in a command per phase.' : `The config drives ${bold(choice.agent)}.`;
    case 'found on PATH':
      return `The config drives ${bold(choice.agent)}, the first agent CLI found on PATH (another: orch init --agent codex|gemini|claude in a fresh dir).`;
    case 'no agent CLI on PATH':
      return 'No agent CLI (claude, codex, gemini) is on PATH: the config runs only the checks. Install one and set a provider per phase.';
    default: {
      const never: never = choice.why;
      return never;
    }
  }
}
