// `orch doctor [--fix]`: one line per problem, with its path and what to do; exit 0 when healthy,
// 1 when problems remain (after --fix). --json gives the problem list as doctorProject returns it.
import { doctorProject, type DoctorProblem } from '../../project/doctor.js';
import { projectPaths } from '../context.js';
import { bad, dim, good, warn } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';
import { shown } from './clean.js';

export interface DoctorCommandOptions extends GlobalOptions {
  fix?: boolean;
}

function label(problem: DoctorProblem): string {
  if (problem.fixed) return good('fixed');
  return problem.severity === 'error' ? bad('error') : warn('warning');
}

export async function doctorCommand(options: DoctorCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  const report = await doctorProject(paths, { fix: options.fix === true });
  if (options.json === true) {
    printJson(report);
    return report.healthy ? 0 : 1;
  }
  if (report.holder !== undefined) println(dim(`a live orchestrator holds this state dir (${report.holder}): its running attempts were not checked`));
  for (const problem of report.problems) {
    const todo = problem.fixed ? '' : ` ${dim('→')} ${problem.fixable && options.fix !== true ? '`orch doctor --fix` repairs it' : problem.action}`;
    println(`${label(problem)} ${problem.kind}: ${shown(problem.path)}: ${problem.message}${todo}`);
  }
  const remaining = report.problems.filter(p => p.severity === 'error' && !p.fixed).length;
  const fixed = report.problems.filter(p => p.fixed).length;
  if (report.healthy) println(`${good('healthy')}${fixed > 0 ? ` (${fixed} problem(s) fixed)` : ''}`);
  else println(`${remaining} problem(s) remain${fixed > 0 ? `, ${fixed} fixed` : ''}${options.fix === true ? '' : `; ${report.problems.filter(p => p.fixable && !p.fixed).length} of them \`orch doctor --fix\` can repair`}`);
  return report.healthy ? 0 : 1;
}
