import { relative } from 'node:path';
import { validateProject, type Problem } from '../../project/validate.js';
import { projectPaths } from '../context.js';
import { bad, good, warn } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

function where(file: string, problem: Problem): string {
  if (problem.line !== undefined) return `${file}:${problem.line}:${problem.column ?? 1}`;
  return problem.path !== undefined ? `${file} ${problem.path}` : file;
}

/** Exit 2 when any file is invalid; warnings alone keep 0. */
export async function validateCommand(files: string[], options: GlobalOptions): Promise<number> {
  const paths = projectPaths(options);
  const report = await validateProject(paths, files);
  if (options.json === true) {
    printJson(report);
    return report.errors > 0 ? 2 : 0;
  }
  for (const file of report.files) {
    const shown = relative(process.cwd(), file.file) || file.file;
    if (file.problems.length === 0) {
      if (options.verbose === true) println(`${good('ok')}      ${shown}`);
      continue;
    }
    for (const problem of file.problems) {
      const label = problem.severity === 'error' ? bad('error') : warn('warning');
      // A JSON syntax error's message already starts with file:line:column.
      const text = problem.line !== undefined ? problem.message.replace(/^.*?:\d+:\d+: /, '') : problem.message;
      println(`${label}: ${where(shown, problem)}: ${text}`);
    }
  }
  println(`${report.files.length} file(s) checked: ${report.errors} error(s), ${report.warnings} warning(s)`);
  return report.errors > 0 ? 2 : 0;
}
