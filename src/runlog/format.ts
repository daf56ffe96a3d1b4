// The markdown of the run log (PRODUCT.md §9), as pure functions: one entry is always one line (plus
// indented detail lines), so an append is one write and a reader never sees half an entry.
import type { RunEvent } from '../generated/types.js';

export type LogLevel = RunEvent['level'];
export type LogCategory = RunEvent['category'];

const ICONS: { [L in LogLevel]: string } = {
  info: 'ℹ️  ',
  success: '✅ ',
  warning: '⚠️  ',
  error: '❌ ',
};

/** Text from commands or users is folded onto one line and stripped of markup that could break the page. */
export function oneLine(text: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/\s*\n\s*/g, ' ⏎ ').replace(/`{3,}/g, "'''").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `10:30:01` from an ISO time (UTC, like the section's Started line). */
export function clockTime(iso: string): string {
  return iso.slice(11, 19);
}

export function formatEntry(event: Pick<RunEvent, 'at' | 'level' | 'category' | 'message' | 'details'>): string {
  const lines = [`- \`${clockTime(event.at)}\` ${ICONS[event.level]}**${event.category}**: ${oneLine(event.message)}`];
  for (const detail of event.details ?? []) lines.push(`  - ${oneLine(detail)}`);
  return `${lines.join('\n')}\n`;
}

/** Most characters of task ids on one line of the log (a state dir of 100,000 tasks must not make a 1 MB line). */
export const TASK_LIST_MAX_CHARS = 300;

/** How many of `ids`, from the first, fit in about `maxChars` (at least one). */
function tasksThatFit(ids: readonly string[], maxChars: number): number {
  let length = 0;
  for (const [i, id] of ids.entries()) {
    length += id.length + 2;
    if (i > 0 && length > maxChars) return i;
  }
  return ids.length;
}

/** `A, B, C`, cut to about `maxChars` with `and N more` (ids are at most 64 characters). */
export function listTasks(ids: readonly string[], maxChars = TASK_LIST_MAX_CHARS): string {
  const shown = tasksThatFit(ids, maxChars);
  const list = ids.slice(0, shown).join(', ');
  return shown < ids.length ? `${list} and ${ids.length - shown} more` : list;
}

export interface RunHeader {
  startedAt: string;
  /**
   * The unfinished tasks the run found at its start. The header is written before the run does
   * anything, and the log is only ever appended: the tasks it touched are its last entry (tasksTouchedMessage).
   */
  carriedOver: string[];
  notes?: string[];
}

export function formatRunHeader(header: RunHeader): string {
  const carried = header.carriedOver.length > 0 ? `${listTasks(header.carriedOver)} carried over` : 'none carried over';
  const parts = [`## Run: ${header.startedAt.slice(0, 19)}`, `**Started**: ${header.startedAt}`, `**Tasks**: ${carried} (the tasks this run touches are listed at its end)`];
  for (const note of header.notes ?? []) parts.push(`**Note**: ${oneLine(note)}`);
  parts.push('### Execution Log');
  return `\n${parts.join('\n\n')}\n\n`;
}

/** The message of a run's last entry: every task whose record it wrote (summaryFile lists them all). */
export function tasksTouchedMessage(ids: readonly string[], summaryFile: string): string {
  if (ids.length === 0) return 'Tasks this run touched: none';
  const cut = tasksThatFit(ids, TASK_LIST_MAX_CHARS) < ids.length;
  return `Tasks this run touched (${ids.length}): ${listTasks(ids)}${cut ? ` (all in ${summaryFile})` : ''}`;
}

export interface RunSummary {
  endedAt: string;
  durationS: number;
  costUsd: number;
  completed: number;
  failed: number;
  needingReview: number;
}

export function formatRunSummary(summary: RunSummary): string {
  return [
    '',
    '### Run Summary',
    '',
    `**Ended**: ${summary.endedAt}`,
    '',
    `**Total Duration**: ${summary.durationS.toFixed(1)}s`,
    '',
    `**Total Cost**: $${summary.costUsd.toFixed(2)}`,
    '',
    `**Tasks Completed**: ${summary.completed}`,
    '',
    `**Tasks Failed**: ${summary.failed}`,
    '',
    `**Tasks Needing Review**: ${summary.needingReview}`,
    '',
    '---',
    '',
  ].join('\n');
}

/** The last run section of a log, and whether it was closed with a summary. */
export function lastRunStatus(log: string): { started?: string; closed: boolean } {
  const start = log.lastIndexOf('\n## Run: ');
  const at = start === -1 ? (log.startsWith('## Run: ') ? 0 : -1) : start + 1;
  if (at === -1) return { closed: true };
  const section = log.slice(at);
  const started = /^## Run: (\S+)/.exec(section)?.[1];
  return { ...(started !== undefined && { started }), closed: section.includes('\n### Run Summary\n') };
}
