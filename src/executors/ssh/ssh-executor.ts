// The ssh executor (specs/executors.md): each attempt runs on a host of the pool, started by the spool
// wrapper in a process group of its own; its end is the wrapper's exitcode file (seen by the host's
// watch), its output is collected from the spool when it has ended. A host that cannot be reached
// spends none of the task's attempts: the placement moves on to another host, and an attempt whose
// host stays unreachable past host_down_grace_s is given up as lost (interrupted), not failed.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { OrchConfig, RemoteRun } from '../../generated/types.js';
import { COMMAND_REASONS, type CommandReason } from '../../runner/outcome.js';
import { DEFAULT_KILL_GRACE_MS } from '../../runner/run-command.js';
import type { Executor, ExecutorOutcome, ExecutorRun, FollowedRun } from '../executor.js';
import { ENDED_UNSEEN, Ending, attemptSpool, coordinatorKey, judgeEnd, remoteCommand, sleep, stopText, type RemoteEnd } from '../remote-attempt.js';
import { HostPool } from './host-pool.js';
import { HostLink, UnreachableHostError } from './host-link.js';
import { controlDir } from './ssh-argv.js';
import { checkoutLines, fetchBack, hostWorktree, pushTip, snapshotCommand } from './remote-git.js';

type SshConfig = NonNullable<NonNullable<OrchConfig['executors']>['ssh']>;

export const DEFAULT_CONNECT_TIMEOUT_S = 10;
export const DEFAULT_HOST_DOWN_GRACE_S = 300;
/** How often a waiting attempt looks whether its host has been unreachable for too long. */
const LOST_CHECK_MS = 1000;
/** After the wrapper's kill (TERM, grace, KILL) returned, how long its end may take to be seen. */
const END_AFTER_KILL_MS = 30_000;

export class SshExecutor implements Executor {
  private readonly pool: HostPool;
  private readonly links = new Map<string, HostLink>();
  private readonly graceMs: number;
  /** This coordinator's spool root on every host, relative to its workdir: two coordinators never share one. */
  private readonly spoolRoot: string;

  constructor(config: SshConfig, stateDir: string) {
    this.pool = new HostPool(config.hosts.map(host => ({ name: host.host, slots: host.slots ?? 1 })));
    this.graceMs = (config.host_down_grace_s ?? DEFAULT_HOST_DOWN_GRACE_S) * 1000;
    this.spoolRoot = `.orch/spool/${coordinatorKey(stateDir)}`;
    const dir = controlDir();
    for (const host of config.hosts) {
      this.links.set(
        host.host,
        new HostLink({
          host,
          controlDir: dir,
          connectTimeoutS: config.connect_timeout_s ?? DEFAULT_CONNECT_TIMEOUT_S,
          spoolRoot: this.spoolRoot,
          onReachable: (reachable, error) => (reachable ? this.pool.markUp(host.host) : this.pool.markDown(host.host, error ?? 'unreachable')),
        }),
      );
    }
  }

  async run(run: ExecutorRun): Promise<ExecutorOutcome> {
    const began = Date.now();
    const notStarted = (reason: CommandReason, error: string): ExecutorOutcome => ({
      reason, exit_code: null, signal: null, duration_ms: Date.now() - began, error, output_tail: '', truncated: { stdout: false, stderr: false },
    });
    const signal = run.signal ?? new AbortController().signal;
    let preferred = run.preferredHost;
    for (;;) {
      let lease;
      try {
        lease = await this.pool.acquire(preferred, signal);
      } catch {
        return notStarted(COMMAND_REASONS.cancelled, 'cancelled while waiting for a host of the ssh pool');
      }
      try {
        return await this.runOn(this.link(lease.host), run);
      } catch (error) {
        // Not reached: nothing ran there. Another host (or this one after its backoff) takes it.
        if (!(error instanceof UnreachableHostError)) return notStarted(COMMAND_REASONS.failed, error instanceof Error ? error.message : String(error));
        preferred = undefined;
      } finally {
        lease.release();
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map(link => link.close()));
  }

  private link(name: string): HostLink {
    const link = this.links.get(name);
    if (link === undefined) throw new Error(`no host ${name} in executors.ssh.hosts`);
    return link;
  }

  /** One attempt on one host. Throws UnreachableHostError when the host could not be reached to start it. */
  private async runOn(link: HostLink, run: ExecutorRun): Promise<ExecutorOutcome> {
    const context = run.env.context;
    const { spoolName, endId } = attemptSpool(run);
    const spool = `${this.spoolRoot}/${spoolName}`;
    const workdir = await link.prepare();
    const remoteSpool = `${workdir}/${spool}`;
    // With a worktree here, the command runs in the task's worktree there, at the same commit.
    const local = context.worktree;
    const code = local === undefined ? undefined : await this.sendBranch(link, local.path, context.taskId);
    const remoteWorktree = `${workdir}/${hostWorktree(context.taskId)}`;

    const { env, files, argv } = remoteCommand(run, remoteSpool, local === undefined ? undefined : { local: local.path, remote: remoteWorktree, baseSha: local.base_sha });

    // The output files exist from the start, as the local runner's do (orch tail, an attempt lost).
    writeFileSync(run.stdoutPath, '');
    writeFileSync(run.stderrPath, '');
    const pgid = await link.start({ spool: remoteSpool, attemptId: endId, env, files, argv, ...(code !== undefined && { prelude: checkoutLines(context.taskId, code) }) });
    const startedAt = Date.now();
    const remote: RemoteRun = { executor: 'ssh', host: link.name, spool, pgid };
    const ending = new Ending(run, startedAt);
    try {
      await Promise.race([run.onSpawn?.({ remote }), ending.cancelled]);
    } catch (error) {
      await link.kill(spool, 0).catch(() => undefined);
      link.forget(spoolName);
      const why = error instanceof Error ? error.message : String(error);
      return { reason: COMMAND_REASONS.failed, exit_code: null, signal: null, duration_ms: Date.now() - startedAt, error: `stopped: onSpawn failed (${why}), so its host could not be recorded`, output_tail: '', truncated: { stdout: false, stderr: false }, onSpawnError: error };
    }

    return this.finish(link, { spool, spoolName, pgid }, run, ending, startedAt);
  }

  /**
   * Follows the command of a dead run's attempt on its host (orch --resume) to its end, holding a slot
   * of that host meanwhile: it may have ended while no orchestrator ran (its end is in the spool).
   */
  async follow(remote: RemoteRun, run: FollowedRun, startedAt: number): Promise<ExecutorOutcome> {
    const link = this.links.get(remote.host);
    if (link === undefined || !remote.spool.startsWith(`${this.spoolRoot}/`)) {
      const lost = `${remote.host} is not a host of executors.ssh, or the spool ${remote.spool} is not this coordinator's: the attempt cannot be followed`;
      return { ...ENDED_UNSEEN, duration_ms: 0, error: lost, lost };
    }
    const lease = this.pool.hold(remote.host);
    try {
      // The wrapper of this orch's version (an upgrade between the runs): its watch reads the spool.
      // An unreachable host is waited for as any other (up to host_down_grace_s).
      await link.prepare().catch(() => undefined);
      return await this.finish(link, { spool: remote.spool, spoolName: basename(remote.spool), pgid: remote.pgid }, run, new Ending(run, startedAt), startedAt);
    } finally {
      lease.release();
    }
  }

  /**
   * The attempt's end as the host's watch sees it, its output collected, its spool removed, and its work
   * (with a worktree) brought back into the local worktree.
   */
  private async finish(link: HostLink, at: { spool: string; spoolName: string; pgid: number | undefined }, run: FollowedRun, ending: Ending, startedAt: number): Promise<ExecutorOutcome> {
    const { spool, spoolName, pgid } = at;
    const context = run.env.context;
    const local = context.worktree;
    const end = await this.waitForEnd(link, spool, spoolName, ending);
    ending.dispose();
    if (end === 'lost') {
      link.forget(spoolName);
      const lost = `${link.name} could not be reached for ${Math.round(this.graceMs / 1000)} s: the attempt is given up (its command may still run there, in process group ${pgid ?? '?'})`;
      return { ...ENDED_UNSEEN, duration_ms: Date.now() - startedAt, error: lost, lost };
    }
    if (end === 'unconfirmed') {
      link.forget(spoolName);
      // Fail closed: stopped, but how it ended is unknown.
      const error = `${stopText(ending.reason ?? COMMAND_REASONS.cancelled, ending.run)}: its process group ${pgid ?? '?'} on ${link.name} was killed, but no end was seen`;
      return { ...ENDED_UNSEEN, reason: ending.reason ?? COMMAND_REASONS.failed, duration_ms: Date.now() - startedAt, error };
    }
    const outcome = await this.collect(link, spool, run, end, ending, startedAt);
    await link.remove(spool).catch(() => undefined);
    if (local === undefined || outcome.reason !== COMMAND_REASONS.succeeded) return outcome;
    // Its work comes back here, into the local worktree, for orch's checkpoint. Fail closed: work that
    // could not be brought back is not done (retryable: nothing is wrong with the work itself).
    try {
      await link.inWorkdirOrThrow(snapshotCommand(context.taskId), 'could not commit the attempt\'s work');
      await fetchBack(local.path, context.taskId, link.gitTarget());
      return outcome;
    } catch (error) {
      return { ...outcome, reason: COMMAND_REASONS.failed, error: `its work could not be brought back from ${link.name}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  /** Pushes the task's branch tip to the host; the sha the host's worktree is to hold. */
  private async sendBranch(link: HostLink, worktreePath: string, taskId: string): Promise<string> {
    try {
      await link.ensureRepo();
      return await pushTip(worktreePath, taskId, link.gitTarget());
    } catch (error) {
      // Nothing ran: an unreachable host moves the attempt elsewhere, as for a failed start.
      throw error instanceof UnreachableHostError ? error : await link.explainGitFailure(error);
    }
  }

  /**
   * The end from the host's watch; a stop (timeout, cancel) kills the remote group first. `lost`: the
   * host stayed unreachable past the grace; `unconfirmed`: the group was killed but no end came.
   */
  private async waitForEnd(link: HostLink, spool: string, spoolName: string, ending: Ending): Promise<RemoteEnd | 'lost' | 'unconfirmed'> {
    const ended = link.waitEnd(spoolName);
    let killedAt: number | undefined;
    let asking = false;
    // A kill that failed (the host refuses at once) is asked again at the next look, not at once: a
    // resolved `stopped` in every race would spawn ssh in a tight loop until the grace ran out.
    let askedAt = -Infinity;
    for (;;) {
      const waits: Promise<RemoteEnd | 'stop' | 'check'>[] = [ended, sleep(LOST_CHECK_MS).then(() => 'check' as const)];
      if (killedAt === undefined && !asking && Date.now() - askedAt >= LOST_CHECK_MS) waits.push(ending.stopped.then(() => 'stop' as const));
      const next = await Promise.race(waits);
      if (typeof next === 'object') return next;
      if (next === 'stop') {
        asking = true;
        askedAt = Date.now();
        // Unreachable now: asked again at the next look; the end (or the loss) comes through the watch.
        link.kill(spool, (ending.run.killGraceMs ?? DEFAULT_KILL_GRACE_MS) / 1000).then(
          () => (killedAt = Date.now()),
          () => undefined,
        ).finally(() => (asking = false));
      }
      if (killedAt !== undefined && Date.now() - killedAt > END_AFTER_KILL_MS) return 'unconfirmed';
      if (link.downSince !== undefined && Date.now() - link.downSince > this.graceMs) return 'lost';
    }
  }

  private async collect(link: HostLink, spool: string, run: FollowedRun, end: RemoteEnd, ending: Ending, startedAt: number): Promise<ExecutorOutcome> {
    const files = await link.collect(spool, run.outputCapBytes).catch((error: unknown) => new Error(`its output could not be fetched from ${link.name}: ${error instanceof Error ? error.message : String(error)}`));
    return judgeEnd(run, files, end, ending, startedAt, link.name);
  }
}
