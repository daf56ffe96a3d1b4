// `orch log`: the last run sections of the markdown run log, or the last events of events.jsonl
// (PRODUCT.md §9). Both are read from the end, so a long history costs no more than a short one.
import { resolve } from 'node:path';
import { errnoCode, isOrchError } from '../errors.js';
import type { RunEvent } from '../generated/types.js';
import { loadIfExists, validateDocument } from '../store/load.js';
import { DEFAULT_RUN_LOG, type StatePaths } from '../store/paths.js';
import { readBack, readLastLines } from './read-back.js';

const RUN_HEADER = /^## Run: /gm;

export interface RunSections {
  path: string;
  /** Oldest first, each from its `## Run:` line to the next one. */
  sections: string[];
  /** Earlier runs exist beyond these (or the log was too long to look further back). */
  more: boolean;
  exists: boolean;
}

/** The run log's path: the config's `run_log` (relative to the root), else the default. */
export async function runLogPath(paths: StatePaths): Promise<string> {
  const config = await loadIfExists('config', paths.config);
  return resolve(paths.root, config?.doc.run_log ?? DEFAULT_RUN_LOG);
}

/** The last `count` run sections of the markdown log at `path`. */
export async function readRunSections(path: string, count: number): Promise<RunSections> {
  const headers = (text: string): number => text.match(RUN_HEADER)?.length ?? 0;
  const read = await readBack(path, { enough: text => headers(text) > count });
  if (read === undefined) return { path, sections: [], more: false, exists: false };
  const starts = [...read.text.matchAll(RUN_HEADER)].map(match => match.index);
  const sections = starts.map((start, i) => read.text.slice(start, starts[i + 1] ?? read.text.length).trimEnd() + '\n');
  const last = sections.slice(Math.max(0, sections.length - count));
  return { path, sections: last, more: sections.length > last.length || !read.whole, exists: true };
}

export interface SkippedLine {
  /** Where the line is, counted from the end of the file (1: the last line). */
  from_end: number;
  reason: string;
}

export interface RecentEvents {
  path: string;
  /** Oldest first. */
  events: RunEvent[];
  /** Lines that are not valid events (a torn last line of a killed writer, a hand edit). */
  skipped: SkippedLine[];
  /** Earlier events exist. */
  more: boolean;
}

/** The last `count` events of events.jsonl, skipping the `offset` most recent ones. */
export async function readRecentEvents(path: string, count: number, offset = 0): Promise<RecentEvents> {
  let read;
  try {
    read = await readLastLines(path, count + offset);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') read = undefined;
    else throw error;
  }
  if (read === undefined) return { path, events: [], skipped: [], more: false };
  const lines = read.text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const wanted = lines.slice(0, Math.max(0, lines.length - offset));
  const events: RunEvent[] = [];
  const skipped: SkippedLine[] = [];
  wanted.forEach((line, i) => {
    const fromEnd = lines.length - i;
    try {
      events.push(validateDocument('event', path, JSON.parse(line)));
    } catch (error) {
      const reason = isOrchError(error) ? error.message.replace(`${path}: `, '') : `not JSON: ${(error as Error).message}`;
      skipped.push({ from_end: fromEnd, reason });
    }
  });
  return { path, events, skipped, more: !read.whole };
}
