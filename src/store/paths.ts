// Where everything lives (PRODUCT.md §2). The project root is found by walking up from the working
// directory as git does; --root or ORCH_ROOT overrides. Ids are checked before they become paths.
import { lstatSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OrchError } from '../errors.js';

export const STATE_DIR_LAYOUTS = ['.isollm', 'orchestrator/state'] as const;
export type StateDirLayout = (typeof STATE_DIR_LAYOUTS)[number];

export const DEFAULT_RUN_LOG = 'ORCHESTRATOR_RUN_LOG.md';

/**
 * Whether anything is at `path` (a file, a directory, a link: lstat, never followed). Synchronous: one
 * lstat costs less than the thread-pool round trip and the rejected promise (an Error with its stack,
 * for a missing file) of the async call, and it is on the path of every record write (issue 16).
 */
export function pathExists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false; // not reachable (EACCES on a parent…): as absent, as before
  }
}

/** `[A-Za-z0-9._-]`, 1 to 64 characters, no leading dot: the same rule as the TaskId schema. */
const SAFE_ID = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id);
}

export function assertSafeId(id: string, where: string): string {
  if (!isSafeId(id)) {
    throw new OrchError('ORCH_UNSAFE_ID', `${where}: task id ${JSON.stringify(id.slice(0, 80))} is not allowed`, {
      details: { file: where, id },
      hint: 'ids are 1 to 64 of A-Z a-z 0-9 . _ - and do not start with a dot',
    });
  }
  return id;
}

/**
 * Where each layout keeps its files. `home` holds the human's files and the tree around them (config,
 * specs, inbox, runs, events.jsonl, schemas); `machine` holds the records, workers and session. The
 * orchestrator layout is the `.isollm/` tree with `orchestrator/` in its place, so a record's paths
 * (spec_file, artifacts_dir: relative to `home`) read the same in both.
 */
export const LAYOUT_DIRS = {
  '.isollm': { home: '.isollm', machine: '.isollm/state' },
  'orchestrator/state': { home: 'orchestrator', machine: 'orchestrator/state' },
} as const satisfies Record<StateDirLayout, { home: string; machine: string }>;

export interface StatePaths {
  root: string;
  /** The layout's home (LAYOUT_DIRS): `.isollm/` or `orchestrator/`. Records' paths are relative to it. */
  stateDir: string;
  config: string;
  /** Task specs: human-owned. */
  tasks: string;
  inbox: string;
  /** Records, workers and session: `.isollm/state/` or `orchestrator/state/`. */
  machine: string;
  session: string;
  /** `orch status`'s cache of what each file said (a cache: src/project/status-cache.ts). */
  statusCache: string;
  /** The orchestrator's index of finished records, kept between runs (a cache: src/runtime/record-index.ts). */
  recordIndex: string;
  records: string;
  /** A copy of each finished task's record, as orch last wrote it (src/runtime/finished-archive.ts). */
  archive: string;
  workers: string;
  runs: string;
  events: string;
  runLog: string;
  schemas: string;
}

export function statePaths(root: string, layout: StateDirLayout = '.isollm', runLog: string = DEFAULT_RUN_LOG): StatePaths {
  const stateDir = join(root, LAYOUT_DIRS[layout].home);
  const machine = join(root, LAYOUT_DIRS[layout].machine);
  return {
    root,
    stateDir,
    config: join(stateDir, 'config.json'),
    tasks: join(stateDir, 'tasks'),
    inbox: join(stateDir, 'inbox'),
    machine,
    session: join(machine, 'session.json'),
    statusCache: join(machine, 'status-cache.json'),
    recordIndex: join(machine, 'record-index.json'),
    records: join(machine, 'tasks'),
    archive: join(machine, 'archive'),
    workers: join(machine, 'workers'),
    runs: join(stateDir, 'runs'),
    events: join(stateDir, 'events.jsonl'),
    runLog: resolve(root, runLog),
    schemas: join(stateDir, 'schemas'),
  };
}

export function recordPath(paths: StatePaths, id: string): string {
  return join(paths.records, `${assertSafeId(id, paths.records)}.json`);
}

export function workerPath(paths: StatePaths, name: string): string {
  return join(paths.workers, `${assertSafeId(name, paths.workers)}.json`);
}

export function specPathFor(paths: StatePaths, id: string): string {
  return join(paths.tasks, `${assertSafeId(id, paths.tasks)}.json`);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export interface FoundRoot {
  root: string;
  layout: StateDirLayout;
}

/**
 * The layout of `root`, if it has one: `.isollm/`, else `orchestrator/state/`. Throws
 * ORCH_OLD_LAYOUT for a project left in the old orchestrator layout (assertNotOldLayout).
 */
export function layoutAt(root: string): StateDirLayout | undefined {
  const layout = STATE_DIR_LAYOUTS.find(layout => isDir(join(root, layout)));
  if (layout === 'orchestrator/state') assertNotOldLayout(root);
  return layout;
}

/**
 * Early versions put the whole `.isollm/` tree inside `orchestrator/state/` (its config, its specs in
 * `tasks/`, its records in `state/tasks/`). Read as the current layout, those specs would be taken for
 * records: such a project is refused, with the moves that bring it over (the records' own paths are
 * relative to the home, so they need no change).
 */
export function assertNotOldLayout(root: string): void {
  const machine = join(root, LAYOUT_DIRS['orchestrator/state'].machine);
  const config = join(machine, 'config.json');
  if (!isFile(config) && !isDir(join(machine, 'state'))) return;
  const home = join(root, LAYOUT_DIRS['orchestrator/state'].home);
  throw new OrchError(
    'ORCH_OLD_LAYOUT',
    `${machine}/ holds the old layout (config.json, specs in tasks/, records in state/): config and specs now live in orchestrator/, records, workers and session in orchestrator/state/`,
    {
      details: { file: isFile(config) ? config : join(machine, 'state'), root },
      hint:
        'stop orch, then move orchestrator/state/config.json and its neighbours up into orchestrator/, and orchestrator/state/state/* into orchestrator/state/ ' +
        `(records need no change): cd ${home} && mv state old-state && mv old-state/state state && mv old-state/* . && rmdir old-state`,
    },
  );
}

/**
 * The project root: `explicit` (--root) or ORCH_ROOT if given, else the nearest folder from `cwd`
 * upwards that holds `.isollm/` or `orchestrator/state/`.
 */
export function findProjectRoot(cwd: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): FoundRoot | undefined {
  const forced = explicit ?? env.ORCH_ROOT;
  if (forced !== undefined && forced !== '') {
    const root = resolve(cwd, forced);
    const layout = layoutAt(root);
    return layout === undefined ? undefined : { root, layout };
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const layout = layoutAt(dir);
    if (layout !== undefined) return { root: dir, layout };
    if (dirname(dir) === dir) return undefined;
  }
}
