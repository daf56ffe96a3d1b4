// What lies outside the state dir (no tests of its own): a snapshot of the project root (the state dir
// and the run log aside) and of folders beside it, taken before a run and compared after, so a write
// through a symlink, a stray file or a changed byte outside is found.
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { safeLstat, safeReaddir } from './fs-safe.js';
import { projectPaths } from './project.js';

export interface OutsideSnapshot {
  root: string;
  /** Excluded from the project root's listing: the state dir and the run log. */
  excluded: string[];
  dirs: string[];
  entries: Map<string, string>;
}

function describeEntry(path: string): string | undefined {
  const stat = safeLstat(path);
  if (stat === undefined) return undefined;
  if (stat.isSymbolicLink()) return `symlink ${readlinkSync(path)}`;
  if (stat.isDirectory()) return `dir ${(stat.mode & 0o7777).toString(8)}`;
  if (stat.isFile()) {
    const hash = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
    return `file ${(stat.mode & 0o7777).toString(8)} ${stat.size} ${hash}`;
  }
  return 'special';
}

function listTree(dir: string, excluded: readonly string[], into: Map<string, string>): void {
  for (const name of safeReaddir(dir)) {
    const path = join(dir, name);
    if (excluded.includes(path)) continue;
    const what = describeEntry(path);
    if (what === undefined) continue;
    into.set(path, what);
    if (what.startsWith('dir ')) listTree(path, excluded, into);
  }
}

/**
 * Everything outside the state dir that a run must not touch: the project root but for the state
 * dir and the run log, and each of `dirs` (a sibling folder holding files a symlink may point at).
 */
export function snapshotOutside(root: string, dirs: readonly string[] = []): OutsideSnapshot {
  const paths = projectPaths(root);
  const excluded = [paths.stateDir, paths.runLog];
  const entries = new Map<string, string>();
  listTree(root, excluded, entries);
  for (const dir of dirs) {
    entries.set(dir, describeEntry(dir) ?? 'missing');
    listTree(dir, [], entries);
  }
  return { root, excluded, dirs: [...dirs], entries };
}

export function compareOutside(before: OutsideSnapshot): { path: string; message: string }[] {
  const now = snapshotOutside(before.root, before.dirs);
  const changes: { path: string; message: string }[] = [];
  for (const [path, what] of now.entries) {
    const was = before.entries.get(path);
    if (was === undefined) changes.push({ path, message: `created outside the state dir (${what})` });
    else if (was !== what) changes.push({ path, message: `changed outside the state dir: ${was} → ${what}` });
  }
  for (const path of before.entries.keys()) if (!now.entries.has(path)) changes.push({ path, message: 'removed outside the state dir' });
  return changes;
}
