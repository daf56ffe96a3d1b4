import { resolve } from 'node:path';
import { initProject } from '../../project/init.js';
import { bold, good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface InitCommandOptions extends GlobalOptions {
  layout?: '.isollm' | 'orchestrator/state';
  project?: string;
}

export async function initCommand(options: InitCommandOptions): Promise<number> {
  const root = resolve(options.root ?? process.env.ORCH_ROOT ?? process.cwd());
  const report = await initProject(root, {
    ...(options.layout !== undefined && { layout: options.layout }),
    ...(options.project !== undefined && { project: options.project }),
  });
  if (options.json === true) {
    printJson({ root, state_dir: report.paths.stateDir, created: report.created, kept: report.kept });
    return 0;
  }
  for (const path of report.created) println(`${good('created')} ${path}`);
  if (report.created.length === 0) println(`orch is already set up in ${root}: nothing to do`);
  println();
  println(`Next: copy ${bold(`${report.paths.stateDir}/examples/example-task.json`)} into ${bold(report.paths.tasks)}/ and run ${bold('orch')}.`);
  return 0;
}
