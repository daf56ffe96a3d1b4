// A new task worktree made ready to work in (issue 14 item 2): the config's `worktree.copy` entries
// copied from the repository root (an untracked .env), its `worktree.link` entries linked (a heavy
// node_modules, not copied per task), then its `worktree.setup` command run once in the worktree. Done
// once per worktree: a marker in the worktree's admin dir says so, so a crash midway runs it again
// and an adopted worktree does not. What orch put there is its own: left out of checkpoints, kept by
// the reset between attempts, and taken away before the worktree is removed.
import { cpSync, existsSync, lstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import type { OrchConfig, Worktree } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { git, gitNow } from '../git/run-git.js';

export interface WorktreeSetup {
  copy: readonly string[];
  link: readonly string[];
  command: readonly string[] | undefined;
  /** Initialise submodules in a new worktree (default true): a worktree checks out none of them. */
  submodules?: boolean;
}

/** How long the setup command may take. */
export const SETUP_TIMEOUT_MS = 30 * 60_000;
/** The most of the setup command's output an error carries. */
const SETUP_OUTPUT_TAIL = 2000;

export function setupOf(config: OrchConfig): WorktreeSetup {
  return { copy: config.worktree?.copy ?? [], link: config.worktree?.link ?? [], command: config.worktree?.setup, submodules: config.worktree?.submodules ?? true };
}

/**
 * Pathspecs that leave out what orch put in the worktree itself (git status, add, clean): the copies
 * and links git does not ignore already. (Naming an ignored path, even to exclude it, makes `git add`
 * fail; and a link named like an ignored folder, `node_modules/`, is not ignored: it is no folder.)
 * Run inside the repository's git queue.
 */
export async function excludingOwnEntries(repo: string, worktree: string, setup: WorktreeSetup): Promise<string[]> {
  const entries = [...setup.copy, ...setup.link];
  if (entries.length === 0) return ['.'];
  const ignored = new Set(
    (await gitNow(repo, ['check-ignore', '--', ...entries], { cwd: worktree }).catch(() => '')).split('\n').filter(Boolean),
  );
  return ['.', ...entries.filter(path => !ignored.has(path)).map(path => `:(exclude,literal)${path}`)];
}

/** The worktree's admin dir (`<repo>/.git/worktrees/<name>`), from its gitfile; undefined if not one. */
export function adminDirOf(worktree: string): string | undefined {
  try {
    const admin = /^gitdir: (.+)$/m.exec(readFileSync(join(worktree, '.git'), 'utf8'))?.[1]?.trim();
    return admin !== undefined && isAbsolute(admin) ? admin : undefined;
  } catch {
    return undefined;
  }
}

const READY_MARKER = 'orch-ready';

/** Copies, links and runs the setup command in `plan`'s worktree, unless that was done already. */
export async function prepareWorktree(repo: string, plan: Worktree, setup: WorktreeSetup): Promise<void> {
  const admin = adminDirOf(plan.path);
  if (admin !== undefined && existsSync(join(admin, READY_MARKER))) return;
  // A tracked path is in every worktree already, and leaving it out of checkpoints would drop the
  // agent's edits of it: the lists are for what git does not hold.
  for (const path of [...setup.copy, ...setup.link]) {
    if ((await git(repo, ['ls-files', '--', `:(literal)${path}`])) !== '') {
      throw new OrchError('ORCH_WORKTREE_SETUP', `worktree.copy/link names ${path}, which git tracks: it is in every worktree already`, {
        details: { path },
        hint: `take ${path} out of worktree.copy and worktree.link in config.json: they are for untracked files and folders (.env, node_modules)`,
      });
    }
  }
  for (const path of setup.copy) {
    const from = join(repo, path);
    const to = join(plan.path, path);
    if (!existsSync(from)) continue; // nothing to copy in this repository (say, no .env yet)
    rmSync(to, { recursive: true, force: true }); // a crash midway left half a copy
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
  for (const path of setup.link) {
    const from = join(repo, path);
    const to = join(plan.path, path);
    if (!existsSync(from) || lstatSync(to, { throwIfNoEntry: false }) !== undefined) continue;
    symlinkSync(from, to);
  }
  if (setup.submodules !== false && existsSync(join(plan.path, '.gitmodules'))) {
    // A new worktree has its submodules' folders empty: the agent, the build and the gate need them.
    await git(repo, ['submodule', 'update', '--init', '--recursive'], { cwd: plan.path, timeoutMs: SETUP_TIMEOUT_MS }).catch((error: unknown) => {
      throw new OrchError('ORCH_WORKTREE_SETUP', `the submodules of ${plan.path} could not be initialised: ${(error as Error).message}`, {
        details: { worktree: plan.path },
        hint: 'check that `git submodule update --init --recursive` works in your checkout, or set worktree.submodules to false in config.json',
      });
    });
  }
  if (setup.command !== undefined && setup.command.length > 0) {
    const [file, ...args] = setup.command as [string, ...string[]];
    const result = await execa(file, args, { cwd: plan.path, reject: false, all: true, timeout: SETUP_TIMEOUT_MS, stdin: 'ignore', env: { ORCH_WORKTREE: plan.path, ORCH_BASE_SHA: plan.base_sha } });
    if (result.exitCode !== 0 || result.timedOut) {
      const output = (result.all ?? '').trim();
      const how = result.timedOut ? `timed out after ${SETUP_TIMEOUT_MS / 1000} s` : result.exitCode === undefined ? (result.shortMessage ?? 'did not start') : `exit ${result.exitCode}`;
      throw new OrchError('ORCH_WORKTREE_SETUP', `worktree.setup ${JSON.stringify(setup.command)} failed in ${plan.path} (${how})${output === '' ? '' : `: ${output.slice(-SETUP_OUTPUT_TAIL)}`}`, {
        details: { command: [...setup.command], worktree: plan.path },
        hint: 'fix the setup command in config.json (worktree.setup), or the repository; the task runs once a person retries it',
      });
    }
  }
  if (admin !== undefined) writeFileSync(join(admin, READY_MARKER), `${new Date().toISOString()}\n`);
}

/** Takes away the copies and links orch put in the worktree, so removing it loses nothing of anyone's. */
export function takeAwayOwnEntries(plan: Pick<Worktree, 'path'>, setup: WorktreeSetup): void {
  for (const path of setup.link) {
    const to = join(plan.path, path);
    if (lstatSync(to, { throwIfNoEntry: false })?.isSymbolicLink() === true) rmSync(to); // the link, never what it points to
  }
  for (const path of setup.copy) rmSync(join(plan.path, path), { recursive: true, force: true });
}
