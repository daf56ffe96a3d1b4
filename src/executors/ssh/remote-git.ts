// The task's branch on a host (specs/executors.md, "Code on the host"). Before an attempt, the tip of
// the task's branch is pushed to a bare repository of the host's own (<workdir>/.orch/repo.git) over
// the host's multiplexed connection, and checked out in a worktree there (<workdir>/.orch/worktrees/
// <task>), where the command runs. After a command that succeeded, what it left is committed there
// and fetched back, and the local worktree is set to that tree: orch's checkpoint then commits it
// here exactly as after a local attempt, and the merge queue stays here.
import type { SshHost } from '../../generated/types.js';
import { gitNow } from '../../git/run-git.js';
import { shellQuote } from '../../cli/format/text.js';
import { sshArgv, type SshOptions } from './ssh-argv.js';

/** Relative to the host's workdir. */
export const HOST_REPO = '.orch/repo.git';
const HOST_WORKTREES = '.orch/worktrees';
/** Exit code of the start script when the host's worktree could not be made or reset (git missing…). */
export const NO_HOST_WORKTREE = 95;

/** Who commits a remote attempt's snapshot on the host (a commit orch makes, never kept as such). */
const SNAPSHOT_AUTHOR = ['-c', 'user.name=orch', '-c', 'user.email=orch@localhost'];

export interface HostGit {
  host: SshHost;
  ssh: SshOptions;
  /** The host's workdir as an absolute path there. */
  workdir: string;
}

/** The host worktree of a task, relative to the workdir. */
export function hostWorktree(taskId: string): string {
  return `${HOST_WORKTREES}/${taskId}`;
}

/** Shell lines that make the bare repository once (run by the host's shell in its workdir). */
export function ensureRepoCommand(): string {
  return `[ -d ${HOST_REPO} ] || git init -q --bare ${HOST_REPO}`;
}

/** git's transport through our ssh: GIT_SSH_COMMAND (run by a shell) and the repository's URL. */
function transport(target: HostGit): { env: Record<string, string>; url: string } {
  // sshArgv ends with `--`, the host and the command: git adds the host and its own command.
  const argv = sshArgv(target.host, target.ssh, '').slice(0, -3);
  return { env: { GIT_SSH_COMMAND: ['ssh', ...argv].map(shellQuote).join(' ') }, url: `ssh://${target.host.host}${target.workdir}/${HOST_REPO}` };
}

/** Pushes the local worktree's HEAD (the branch's last checkpoint) to the host; resolves with its sha. */
export async function pushTip(worktree: string, taskId: string, target: HostGit): Promise<string> {
  const sha = await gitNow(worktree, ['rev-parse', 'HEAD']);
  const { env, url } = transport(target);
  await gitNow(worktree, ['push', '--quiet', '--force', url, `${sha}:refs/orch/tasks/${taskId}`], { env });
  return sha;
}

/** Start script lines: the host's worktree of the task made, or reset to `sha` (what it left last is gone); then cd into it. */
export function checkoutLines(taskId: string, sha: string): string[] {
  const wt = shellQuote(hostWorktree(taskId));
  return [
    `if [ -d ${wt} ]; then git -C ${wt} checkout -q -f --detach ${sha} && git -C ${wt} clean -q -f -d; else git -C ${HOST_REPO} worktree add -q -f --detach "$(pwd -P)/${hostWorktree(taskId)}" ${sha}; fi >/dev/null 2>&1 || exit ${NO_HOST_WORKTREE}`,
    `cd ${wt} || exit ${NO_HOST_WORKTREE}`,
  ];
}

/** Run on the host after the command: everything in the task's worktree committed to refs/orch/results/<task>. */
export function snapshotCommand(taskId: string): string {
  const wt = shellQuote(hostWorktree(taskId));
  const author = SNAPSHOT_AUTHOR.map(shellQuote).join(' ');
  return `cd ${wt} && git add -A && git ${author} commit -q --no-verify --allow-empty -m ${shellQuote(`orch: remote attempt of ${taskId}`)} && git update-ref refs/orch/results/${taskId} HEAD`;
}

/**
 * Fetches the host's snapshot and sets the local worktree's files and index to its tree (HEAD stays at
 * the last checkpoint, so what the attempt changed is a change here, for the checkpoint to commit).
 */
export async function fetchBack(worktree: string, taskId: string, target: HostGit): Promise<void> {
  const { env, url } = transport(target);
  const local = `refs/orch/remote/${taskId}`;
  await gitNow(worktree, ['fetch', '--quiet', url, `+refs/orch/results/${taskId}:${local}`], { env });
  await gitNow(worktree, ['read-tree', '-u', '--reset', local]);
}
