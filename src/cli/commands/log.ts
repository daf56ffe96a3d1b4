// `orch log`: the run log as a person reads it (the last run's section), or its events as JSON.
import { relative } from 'node:path';
import { OrchError } from '../../errors.js';
import { readRecentEvents, readRunSections, runLogPath } from '../../project/log.js';
import { DEFAULT_LIST_LIMIT, parseFields, parseLimit, parseOffset, pickFields, type ReadOptions } from '../format/bounds.js';
import { dim } from '../format/colour.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

const EVENT_FIELDS = ['version', 'at', 'run_id', 'category', 'level', 'message', 'task_id', 'record_rev', 'details', 'data'] as const;

/** Runs shown by `orch log` without --limit: the last one. */
export const DEFAULT_RUNS = 1;

export async function logCommand(options: ReadOptions): Promise<number> {
  const paths = projectPaths(options);
  const offset = parseOffset(options.offset);
  if (options.json === true) {
    const fields = parseFields(options.fields, EVENT_FIELDS, 'orch log --json');
    const limit = parseLimit(options.limit, DEFAULT_LIST_LIMIT);
    const recent = await readRecentEvents(paths.events, limit, offset);
    printJson({
      path: recent.path,
      events: recent.events.map(event => pickFields(event, fields)),
      page: { offset, limit, more: recent.more },
      skipped: recent.skipped,
    });
    return 0;
  }
  if (options.fields !== undefined) {
    throw new OrchError('ORCH_USAGE', '--fields selects the keys of events: it goes with `orch log --json`', { hint: 'orch log --json --fields at,category,message' });
  }
  const limit = parseLimit(options.limit, DEFAULT_RUNS);
  const path = await runLogPath(paths);
  const shown = relative(process.cwd(), path) || path;
  const read = await readRunSections(path, limit + offset);
  if (!read.exists || read.sections.length === 0) {
    println(`no run log yet at ${shown}: it is written when orch runs`);
    return 0;
  }
  const sections = read.sections.slice(0, Math.max(0, read.sections.length - offset));
  if (sections.length === 0) {
    println(`only ${read.sections.length} run(s) in ${shown}: nothing before them to show with --offset ${offset}`);
    return 0;
  }
  if (read.more) println(dim(`(${shown}: earlier runs are not shown; --limit N for more)`));
  for (const section of sections) process.stdout.write(section.endsWith('\n\n') ? section : `${section}\n`);
  return 0;
}
