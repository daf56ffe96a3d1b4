// `orch validate [FILES]`: every problem of every file at once, each with file:line:column (JSON
// syntax) or a JSON path (schema), never stopping at the first bad file.
import { basename, dirname, join, resolve } from 'node:path';
import { isOrchError, type OrchError } from '../errors.js';
import { checkConfig, versionWarnings } from '../config/load-config.js';
import { listJsonFiles, loadDocument, toOrchError } from '../store/load.js';
import { loadSpecs } from '../store/specs.js';
import type { FileKind, SchemaProblem } from '../schema/validators.js';
import { pathExists, type StatePaths } from '../store/paths.js';
import type { OrchConfig } from '../generated/types.js';
import { mergeTargetProblemsAt } from '../worktree/merge-queue.js';

export interface Problem {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  /** JSON path inside the document (schema problems). */
  path?: string;
  line?: number;
  column?: number;
}

export interface FileReport {
  file: string;
  kind: FileKind;
  problems: Problem[];
}

export interface ValidationReport {
  files: FileReport[];
  errors: number;
  warnings: number;
}

/** Which kind of document a path holds, by where it lives in the state tree. */
export function kindOfPath(paths: StatePaths, file: string): FileKind {
  const abs = resolve(file);
  const dir = dirname(abs);
  if (abs === paths.config) return 'config';
  if (abs === paths.session) return 'session';
  if (abs === paths.statusCache) return 'cache';
  if (dir === paths.records) return 'record';
  if (dir === paths.workers) return 'worker';
  if (dir === paths.inbox) return 'decision';
  if (dir === paths.tasks) return 'spec';
  return basename(abs) === 'config.json' ? 'config' : 'spec';
}

/** An error from loading a file, as the problems it stands for. */
export function problemsOf(error: OrchError): Problem[] {
  const details = error.details;
  if (error.code === 'ORCH_SCHEMA_INVALID' || error.code === 'ORCH_CONFIG_INVALID') {
    const problems = (details.problems as SchemaProblem[] | undefined) ?? [];
    if (problems.length > 0) return problems.map(p => ({ severity: 'error', code: error.code, message: p.message, path: p.path }));
  }
  const problem: Problem = { severity: 'error', code: error.code, message: error.message };
  if (typeof details.line === 'number') problem.line = details.line;
  if (typeof details.column === 'number') problem.column = details.column;
  return [problem];
}

async function checkFile(paths: StatePaths, file: string, kind: FileKind): Promise<FileReport> {
  const report: FileReport = { file, kind, problems: [] };
  try {
    const loaded = await loadDocument(kind, file);
    if (kind === 'config') {
      const check = checkConfig(loaded.doc as OrchConfig, paths.root);
      check.warnings.unshift(...versionWarnings(loaded));
      // A merge target someone has checked out (asked of git): every merge into it would be refused.
      const targets = await mergeTargetProblemsAt(loaded.doc as OrchConfig, paths.root);
      check.errors.push(...targets.map(p => ({ path: p.path, message: `${p.message} (${p.hint})` })));
      report.problems.push(
        ...check.errors.map(p => ({ severity: 'error' as const, code: 'ORCH_CONFIG_INVALID', message: p.message, path: p.path })),
        ...check.warnings.map(p => ({ severity: 'warning' as const, code: 'ORCH_CONFIG_WARNING', message: p.message, path: p.path })),
      );
    }
  } catch (error) {
    report.problems.push(...problemsOf(isOrchError(error) ? error : toOrchError(file, error)));
  }
  return report;
}

/** Every file of the state tree, or just `files`. */
export async function validateProject(paths: StatePaths, files?: string[]): Promise<ValidationReport> {
  const reports: FileReport[] = [];
  if (files !== undefined && files.length > 0) {
    for (const file of files) reports.push(await checkFile(paths, resolve(file), kindOfPath(paths, file)));
  } else {
    if (pathExists(paths.config)) reports.push(await checkFile(paths, paths.config, 'config'));
    if (pathExists(paths.session)) reports.push(await checkFile(paths, paths.session, 'session'));
    for (const [dir, kind] of [[paths.records, 'record'], [paths.workers, 'worker'], [paths.inbox, 'decision']] as const) {
      for (const name of await listJsonFiles(dir)) reports.push(await checkFile(paths, join(dir, name), kind));
    }
    reports.push(...(await checkSpecs(paths.tasks)));
  }
  const all = reports.flatMap(r => r.problems);
  return { files: reports, errors: all.filter(p => p.severity === 'error').length, warnings: all.filter(p => p.severity === 'warning').length };
}

/** The tasks folder as a whole: each spec, duplicate ids, and dependencies on tasks that do not exist. */
async function checkSpecs(tasksDir: string): Promise<FileReport[]> {
  const { specs, errors } = await loadSpecs(tasksDir);
  const reports = new Map<string, FileReport>();
  const reportFor = (file: string): FileReport => {
    const existing = reports.get(file);
    if (existing) return existing;
    const created: FileReport = { file, kind: 'spec', problems: [] };
    reports.set(file, created);
    return created;
  };
  for (const spec of specs) reportFor(spec.path);
  for (const failure of errors) reportFor(failure.path).problems.push(...problemsOf(failure.error));
  const known = new Set(specs.map(s => s.id));
  for (const spec of specs) {
    (spec.spec.depends_on ?? []).forEach((dep, i) => {
      if (!known.has(dep)) {
        reportFor(spec.path).problems.push({ severity: 'error', code: 'ORCH_SCHEMA_INVALID', path: `/depends_on/${i}`, message: `depends on "${dep}", which no task spec defines` });
      }
    });
  }
  return [...reports.values()].sort((a, b) => a.file.localeCompare(b.file));
}
