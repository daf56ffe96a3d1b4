// Every git call orch makes (PRODUCT.md §14): argv only, a timeout on each, one call at a time per
// repository in this process (git's own locks would refuse a second writer with an error, not wait),
// and a user's `index.lock` or `ref.lock` waited out, never deleted: it belongs to the person's git.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OrchError } from '../errors.js';

/** How long one git call may take. */
export const GIT_TIMEOUT_MS = 60_000;
/** How long a lock held by someone else's git is waited for, and how often it is looked at again. */
export const GIT_LOCK_WAIT_MS = { total: 30_000, step: 100 } as const;

const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call queued for `repo` in this process has ended. */
export function serialised<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(repo) ?? Promise.resolve();
  const mine = previous.then(fn, fn);
  const settled = mine.catch(() => undefined);
  queues.set(repo, settled);
  void settled.then(() => {
    if (queues.get(repo) === settled) queues.delete(repo);
  });
  return mine;
}

export interface GitOptions {
  /** Where git runs (default `repo`): a task's worktree for its commits. */
  cwd?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** How long a lock held by another git is waited for (GIT_LOCK_WAIT_MS.total when not given). */
  lockWaitMs?: number;
  /** Exit codes besides 0 that are an answer, not a failure (`merge-tree` says 1 for a conflict). */
  answers?: readonly number[];
}

/** A lock another git holds (the person's own `git commit`, an editor's git integration). */
const HELD_LOCK = /Unable to create '([^']+\.lock)': File exists|cannot lock ref .*: .*\.lock/;

/** Some commands (`git merge`) say only "Unable to write index": the index.lock of `cwd`'s git dir, if it is there. */
function indexLockBehind(stderr: string, cwd: string): [string, string] | null {
  if (!/Unable to write index/.test(stderr)) return null;
  const lock = indexLockOf(cwd);
  return existsSync(lock) ? [lock, lock] : null;
}

/** The index.lock of the git dir `cwd` works with. */
export function indexLockOf(cwd: string): string {
  return join(gitDirOf(cwd) ?? join(cwd, '.git'), 'index.lock');
}

/**
 * Waits until no other git holds `cwd`'s index.lock (up to GIT_LOCK_WAIT_MS), for a command that
 * writes that index and may fail half way through when it cannot (`git merge` in the person's
 * checkout). Throws, naming the lock, when it is still held; never removes it.
 */
export async function waitForIndexLock(cwd: string, waitMs: number = GIT_LOCK_WAIT_MS.total): Promise<void> {
  const lock = indexLockOf(cwd);
  const deadline = Date.now() + waitMs;
  while (existsSync(lock)) {
    if (Date.now() >= deadline) {
      throw new OrchError('ORCH_GIT_FAILED', `another git holds ${lock}: waited ${Math.round(waitMs / 1000)} s for it`, {
        details: { lock },
        hint: `orch never deletes it; let that git finish (or remove the lock yourself if no git runs)`,
      });
    }
    await new Promise(resolve => setTimeout(resolve, GIT_LOCK_WAIT_MS.step));
  }
}

/** The git dir of a working tree: `.git` itself, or where its gitfile (a linked worktree's) points. */
function gitDirOf(cwd: string): string | undefined {
  try {
    const dotGit = join(cwd, '.git');
    if (statSync(dotGit).isDirectory()) return dotGit;
    const target = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
    return target === undefined ? undefined : resolve(cwd, target);
  } catch {
    return undefined;
  }
}

/**
 * `git <args>` in `repo`'s queue; resolves to stdout without its last newline. A git error becomes an
 * OrchError naming the command and git's own words; a lock held by another git is waited for (up to
 * GIT_LOCK_WAIT_MS) and then reported as such.
 */
export function git(repo: string, args: readonly string[], options: GitOptions = {}): Promise<string> {
  return serialised(repo, () => gitNow(repo, args, options));
}

/** `git <args>` now, outside the queue: only for a caller already inside it (see serialised). */
export async function gitNow(repo: string, args: readonly string[], options: GitOptions = {}): Promise<string> {
  return (await gitAnswer(repo, args, options)).stdout;
}

/** As gitNow, with the exit code: one of 0 and `options.answers`; any other is thrown as a failure. */
export async function gitAnswer(repo: string, args: readonly string[], options: GitOptions = {}): Promise<{ stdout: string; exitCode: number }> {
  const deadline = Date.now() + (options.lockWaitMs ?? GIT_LOCK_WAIT_MS.total);
  for (;;) {
    const result = await spawnGit(args, options.cwd ?? repo, options.timeoutMs ?? GIT_TIMEOUT_MS, options.env);
    const answered = result.exitCode === 0 || (result.exitCode !== undefined && options.answers?.includes(result.exitCode) === true);
    if (answered && !result.timedOut) return { stdout: result.stdout, exitCode: result.exitCode ?? 0 };
    const stderr = result.stderr.trim();
    const named = HELD_LOCK.exec(stderr);
    const lock = named ?? indexLockBehind(stderr, options.cwd ?? repo);
    // Only a lock git named is waited out by running the command again: git refused before doing
    // anything. "Unable to write index" may come half way (a merge that wrote MERGE_HEAD): never rerun.
    if (named !== null && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, GIT_LOCK_WAIT_MS.step));
      continue;
    }
    const why = result.timedOut ? `timed out after ${options.timeoutMs ?? GIT_TIMEOUT_MS} ms` : stderr.split('\n').slice(-3).join(' ') || `exit ${result.exitCode}`;
    throw new OrchError('ORCH_GIT_FAILED', `git ${args.join(' ')} failed in ${options.cwd ?? repo}: ${why}`, {
      details: { repo, args: [...args], exit_code: result.exitCode ?? null, ...(lock !== null && { lock: lock[1] }) },
      hint: lock !== null ? `another git holds ${lock[1]}: orch never deletes it; let that git finish (or remove the lock yourself if no git runs)` : undefined,
    });
  }
}

interface GitRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Most bytes of output one git call may print (a reviewer's diff of a large change). */
const GIT_MAX_OUTPUT = 256 * 1024 * 1024;

/**
 * One git process. Node's execFile rather than execa: about 1.5 ms less per call (measured on this
 * machine), and a merge or a worktree takes half a dozen calls; we need none of execa's extras here.
 */
function spawnGit(args: readonly string[], cwd: string, timeoutMs: number, env: Record<string, string> | undefined): Promise<GitRun> {
  return new Promise(resolve => {
    execFile(
      'git',
      [...args],
      {
        cwd,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: GIT_MAX_OUTPUT,
        encoding: 'utf8',
        // No prompt for credentials or an editor may ever wait for a person who is not there.
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C', ...env },
      },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean }) | null;
        const exitCode = failure === null ? 0 : typeof failure.code === 'number' ? failure.code : undefined;
        resolve({
          exitCode,
          stdout: stdout.replace(/\r?\n$/, ''),
          stderr: failure !== null && exitCode === undefined && stderr === '' ? failure.message : stderr,
          timedOut: failure?.killed === true && exitCode === undefined,
        });
      },
    );
  });
}
