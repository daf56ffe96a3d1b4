// `orch --tasks PATH` / `orch import PATH`: specs into the tasks folder. Exit 0 when every item was
// imported (or was already there); 2 when any was refused (the good ones are imported all the same).
import { resolve } from 'node:path';
import { importTasks } from '../../project/import-tasks.js';
import { projectPaths } from '../context.js';
import { bad, dim, good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';
import { shown } from './clean.js';

export async function importTasksCommand(source: string, options: GlobalOptions): Promise<number> {
  const paths = projectPaths(options);
  const report = await importTasks(paths, resolve(source));
  const code = report.refused.length > 0 ? 2 : 0;
  if (options.json === true) {
    printJson(report);
    return code;
  }
  for (const spec of report.imported) println(`${good('imported')} ${spec.id} → ${shown(spec.file)}`);
  for (const spec of report.unchanged) println(`${dim('unchanged')} ${spec.id}: ${shown(spec.file)} already holds it`);
  for (const item of report.refused) println(`${bad('refused')} ${shown(item.source)}${item.id === undefined ? '' : ` (${item.id})`}: ${item.message}`);
  println(`${report.imported.length} imported, ${report.unchanged.length} unchanged, ${report.refused.length} refused`);
  return code;
}
