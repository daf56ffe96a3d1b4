// Which paths of the state dir are worth a look (PRODUCT.md §6). An allow-list: `*.json` directly in
// tasks/, inbox/ and state/tasks/, and config.json; everything else an editor, a lock or orch itself
// leaves beside them is ignored. A hint only says "look again": the engine reads the tree itself, so a
// wrong guess costs one pass, and a missed file is found by the next resync.
import { basename, dirname, resolve } from 'node:path';
import type { StatePaths } from '../store/paths.js';

export const HINT_KINDS = ['spec', 'record', 'inbox', 'config'] as const;
export type HintKind = (typeof HINT_KINDS)[number];

/**
 * "Look at this again". `id` is the file's name without `.json` (the task id for specs and records, the
 * decision id for inbox files; a spec's `id` field may name another task, the engine knows). A hint
 * with no id whose path is a folder means "look at the whole folder" (the pending set overflowed).
 */
export interface Hint {
  kind: HintKind;
  id?: string;
  path: string;
}

/**
 * Names never taken as a spec, record or decision, with why. Most cannot end in `.json` and would fail
 * the allow-list anyway; they are listed so the rules can be read (and tested) in one place.
 */
export const IGNORED_NAMES = [
  ['dotfile or dot-folder: .orch-tmp/, .name.swp, emacs .#name lock links, .DS_Store', /^\./],
  ['vim swap file', /\.sw[a-px]$/],
  ['backup file', /~$/],
  ['vim write test file', /^4913$/],
  ['JetBrains safe-write temp or old copy', /___jb_(tmp|old)___$/],
  ['VS Code temp file', /\.vsctmp$/],
  ['temp file (ours: <target>.<pid>-<start>.<n>.tmp)', /\.tmp$/],
  ['lock folder (proper-lockfile: <file>.lock)', /\.lock$/],
  // [\s\S], not `.`: a name may hold a newline, and `.` does not cross it.
  ['not a .json file', /^(?![\s\S]*\.json$)/],
] as const satisfies readonly (readonly [string, RegExp])[];

/** A refused hand edit kept beside its record: never a record itself. Only orch writes these, in state/tasks/. */
export const REJECTED_COPY = /\.rejected-[^/]*\.json$/;

/** Why `name` is ignored in any watched folder, or undefined when it may be a file of ours. */
export function ignoredBecause(name: string): string | undefined {
  for (const [reason, pattern] of IGNORED_NAMES) if (pattern.test(name)) return reason;
  return undefined;
}

/** The folders and file the watcher looks at, resolved. */
export interface WatchedPlaces {
  tasks: string;
  inbox: string;
  records: string;
  stateDir: string;
  config: string;
}

export function watchedPlaces(paths: StatePaths): WatchedPlaces {
  return {
    tasks: resolve(paths.tasks),
    inbox: resolve(paths.inbox),
    records: resolve(paths.records),
    stateDir: resolve(paths.stateDir),
    config: resolve(paths.config),
  };
}

function stem(name: string): string {
  return name.slice(0, -'.json'.length);
}

/** The hint a change of `path` gives, or undefined when the path is not one of ours. */
export function classifyPath(places: WatchedPlaces, path: string): Hint | undefined {
  const full = resolve(path);
  if (full === places.config) return { kind: 'config', path: full };
  const name = basename(full);
  if (ignoredBecause(name) !== undefined) return undefined;
  switch (dirname(full)) {
    case places.tasks:
      // A spec may be called anything.rejected-x.json: the engine loads it, so it is not hidden here.
      return { kind: 'spec', id: stem(name), path: full };
    case places.records:
      return REJECTED_COPY.test(name) ? undefined : { kind: 'record', id: stem(name), path: full };
    case places.inbox:
      return { kind: 'inbox', id: stem(name), path: full };
    default:
      return undefined;
  }
}
