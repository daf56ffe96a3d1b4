// Where an attempt's command runs (PRODUCT.md §16, specs/executors.md). An executor takes the command
// as the runner would (argv, cwd, output files, timeout, cancel signal), tells where it runs as soon as
// it does (the caller records it), and answers how it ended. `local` is the runner itself; `ssh` runs it
// on a host of a pool. The engine holds one Executors per run and closes it at the end.
import type { Attempt, OrchConfig, RemoteRun } from '../generated/types.js';
import type { ExecutorName } from '../machine/workflow.js';
import { buildCommandEnv, type OrchCommandContext } from '../runner/command-env.js';
import { runCommand, type RunCommandOptions, type RunOutcome } from '../runner/run-command.js';
import { SshExecutor } from './ssh/ssh-executor.js';
import { SlurmExecutor } from './slurm/slurm-executor.js';

/** What the record says of where an attempt runs: a local process, or a remote one. */
export type AttemptPlace = Pick<Attempt, 'process' | 'remote'>;

/**
 * What following a command that runs already needs (its end, its output, its stop): the part of a
 * run that does not start anything.
 */
export interface FollowedRun extends Pick<RunCommandOptions, 'stdoutPath' | 'stderrPath' | 'outputCapBytes' | 'timeoutMs' | 'stallTimeoutMs' | 'signal' | 'killGraceMs' | 'clock'> {
  /** The environment's parts: each executor builds the command's environment from them. */
  env: { base: NodeJS.ProcessEnv; context: OrchCommandContext; extra: Record<string, string> };
}

export interface ExecutorRun extends Omit<RunCommandOptions, 'env' | 'onSpawn'>, FollowedRun {
  /** The host of the task's last attempt of this phase (a remote executor prefers it while it is up). */
  preferredHost?: string | undefined;
  /** Called as soon as the command runs, with where; the command is stopped when it throws. */
  onSpawn?: (place: AttemptPlace) => Promise<void>;
}

export interface ExecutorOutcome extends RunOutcome {
  /**
   * The command's end could not be learnt (its host stayed unreachable): the attempt is given up
   * without being counted as a failure (interrupted), and says why.
   */
  lost?: string;
}

export interface Executor {
  run(run: ExecutorRun): Promise<ExecutorOutcome>;
  /**
   * Follows a command a dead run started (orch --resume) to its end, as run() would have: its exit
   * code, output and work, or `lost`. Absent where a command cannot outlive its orchestrator (local:
   * its output went through pipes that died with it), and such a command is stopped instead.
   * `startedAt` (epoch ms, from the record) is when it started: its timeout counts from then.
   */
  follow?(remote: RemoteRun, run: FollowedRun, startedAt: number): Promise<ExecutorOutcome>;
  close(): Promise<void>;
}

export const localExecutor: Executor = {
  run: ({ env, onSpawn, ...options }) =>
    runCommand({
      ...options,
      env: buildCommandEnv(env.base, env.context, env.extra),
      ...(onSpawn !== undefined && { onSpawn: identity => onSpawn({ process: identity }) }),
    }),
  close: async () => undefined,
};

/** The executors of one run, each made on first use from the config. */
export class Executors {
  private ssh: SshExecutor | undefined;
  private slurm: SlurmExecutor | undefined;
  private readonly config: () => OrchConfig;
  private readonly stateDir: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(config: () => OrchConfig, stateDir: string, env: NodeJS.ProcessEnv) {
    this.config = config;
    this.stateDir = stateDir;
    this.env = env;
  }

  get(name: ExecutorName): Executor {
    return name === 'local' ? localExecutor : this.remote(name);
  }

  /** The executor that can follow a dead run's remote attempt, if its config still names one. */
  follower(remote: RemoteRun): Required<Pick<Executor, 'follow'>> | undefined {
    return this.config().executors?.[remote.executor] === undefined ? undefined : this.remote(remote.executor);
  }

  async close(): Promise<void> {
    await Promise.all([this.ssh?.close(), this.slurm?.close()]);
  }

  private remote(name: RemoteRun['executor']): SshExecutor | SlurmExecutor {
    const executors = this.config().executors;
    if (name === 'ssh') {
      if (executors?.ssh === undefined) throw new Error('executor "ssh" is named but the config has no executors.ssh');
      this.ssh ??= new SshExecutor(executors.ssh, this.stateDir);
      return this.ssh;
    }
    if (executors?.slurm === undefined) throw new Error('executor "slurm" is named but the config has no executors.slurm');
    this.slurm ??= new SlurmExecutor(executors.slurm, this.stateDir, this.env);
    return this.slurm;
  }
}
