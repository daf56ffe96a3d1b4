// `orch clean [--keep N] [--yes]`: removes artifacts of old runs and leftovers, after showing what
// goes and asking (on a terminal). Without a terminal it needs --yes: a script must say it means it.
import { isAbsolute, relative } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { OrchError } from '../../errors.js';
import { applyClean, planClean, DEFAULT_KEEP_RUNS, type CleanItem } from '../../project/clean.js';
import { applyWorktreeClean, planWorktreeClean } from '../../project/clean-worktrees.js';
import type { StatePaths } from '../../store/paths.js';
import { projectPaths } from '../context.js';
import { good } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';

export interface CleanCommandOptions extends GlobalOptions {
  yes?: boolean;
  keep?: string;
  worktrees?: boolean;
}

/** "1.2 MB": sizes for the confirmation. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A path as the user will want to read it: relative when it is under the working directory. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/**
 * True when the user confirmed: --yes, or "y" typed on a terminal. Without a terminal and without
 * --yes it refuses (ORCH_USAGE, exit 2) rather than guess.
 */
export async function confirm(question: string, options: { yes?: boolean | undefined; what: string }): Promise<boolean> {
  if (options.yes === true) return true;
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw new OrchError('ORCH_USAGE', `${options.what} needs a confirmation, and there is no terminal to ask on`, { hint: 'pass --yes to go ahead without asking' });
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

function parseKeep(value: string | undefined): number {
  if (value === undefined) return DEFAULT_KEEP_RUNS;
  const keep = Number(value);
  if (!Number.isInteger(keep) || keep < 0) throw new OrchError('ORCH_USAGE', `--keep ${JSON.stringify(value)} is not a count of runs`, { hint: 'use a whole number, 0 or more' });
  return keep;
}

export function describeItems(items: readonly CleanItem[]): string[] {
  return items.map(item => `  ${shown(item.path)} (${formatBytes(item.bytes)})`);
}

export async function cleanCommand(options: CleanCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  if (options.worktrees === true) return cleanWorktreesCommand(paths, options);
  const keep = parseKeep(options.keep);
  const plan = await planClean(paths, { keep });
  const total = plan.remove.reduce((sum, item) => sum + item.bytes, 0);
  if (plan.remove.length === 0) {
    if (options.json === true) printJson({ removed: [], kept: plan.keep.map(k => ({ path: k.path, reason: k.reason })), bytes: 0 });
    else println(`nothing to clean (${plan.keep.length} run(s) kept)`);
    return 0;
  }
  if (options.json !== true) {
    println(`orch clean will remove ${plan.remove.length} item(s), ${formatBytes(total)}:`);
    for (const line of describeItems(plan.remove)) println(line);
  }
  if (!(await confirm('Remove them?', { yes: options.yes, what: 'orch clean' }))) {
    println('nothing removed');
    return 0;
  }
  const removed = await applyClean(plan);
  if (options.json === true) {
    printJson({ removed, kept: plan.keep.map(k => ({ path: k.path, reason: k.reason })), bytes: total });
    return 0;
  }
  println(`${good('removed')} ${removed.length} item(s), ${formatBytes(total)}; kept ${plan.keep.length} run(s)`);
  return 0;
}

/** `orch clean --worktrees`: the task worktrees no task needs, removed where nothing in them would be lost. */
async function cleanWorktreesCommand(paths: StatePaths, options: CleanCommandOptions): Promise<number> {
  const plan = await planWorktreeClean(paths);
  const kept = plan.kept.map(f => ({ path: f.path, task: f.task, reason: `${f.message}: ${f.action}` }));
  if (plan.remove.length === 0) {
    if (options.json === true) printJson({ removed: [], kept });
    else {
      println('no worktree to remove');
      for (const k of kept) println(`  kept ${shown(k.path)}: ${k.reason}`);
    }
    return 0;
  }
  if (options.json !== true) {
    println(`orch clean --worktrees will remove ${plan.remove.length} worktree(s) (their branches stay):`);
    for (const f of plan.remove) println(`  ${shown(f.path)}: ${f.message}`);
  }
  if (!(await confirm('Remove them?', { yes: options.yes, what: 'orch clean --worktrees' }))) {
    println('nothing removed');
    return 0;
  }
  const removed = await applyWorktreeClean(paths, plan);
  if (options.json === true) printJson({ removed, kept });
  else {
    println(`${good('removed')} ${removed.length} worktree(s)`);
    for (const k of kept) println(`  kept ${shown(k.path)}: ${k.reason}`);
  }
  return 0;
}
