// The Slurm client commands the slurm executor uses, each with a deadline (a Slurm command stalls while
// slurmctld or munged is down): sbatch --parsable, squeue for a job's state, scontrol for how it ended
// (kept for MinJobAge after it left squeue), scancel.
import { execa } from 'execa';

/** Longest wait for one Slurm command. */
const SLURM_COMMAND_TIMEOUT_MS = 30_000;

export class SlurmCommandError extends Error {}

async function slurm(program: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<string> {
  const result = await execa(program, args, {
    env,
    extendEnv: false,
    reject: false,
    timeout: SLURM_COMMAND_TIMEOUT_MS,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
  if (result.exitCode !== 0 || result.timedOut === true) {
    const why = result.timedOut === true ? `no answer in ${SLURM_COMMAND_TIMEOUT_MS / 1000} s` : String(result.stderr ?? '').trim() || `exit code ${result.exitCode ?? '?'}`;
    throw new SlurmCommandError(`${program} ${args.join(' ')} failed: ${why}`);
  }
  return String(result.stdout ?? '').trim();
}

/** Submits `script` (its text, starting with #!); the job id. The job's environment is `env` (--export=ALL). */
export async function sbatch(args: readonly string[], script: string, env: NodeJS.ProcessEnv): Promise<string> {
  const out = await slurm('sbatch', ['--parsable', ...args], env, script);
  // --parsable prints "<id>" or "<id>;<cluster>".
  const id = out.split(';')[0] ?? '';
  if (!/^\d+(_\d+)?$/.test(id)) throw new SlurmCommandError(`sbatch printed no job id: ${JSON.stringify(out.slice(0, 200))}`);
  return id;
}

/** The job's state as squeue lists it (PENDING, RUNNING, COMPLETING…); undefined once it is not listed. */
export async function squeueState(jobId: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const out = await slurm('squeue', ['--noheader', '--jobs', jobId, '--format=%T'], env).catch((error: unknown) => {
    // A job squeue no longer knows at all ("Invalid job id specified") is not listed: not an error.
    if (error instanceof SlurmCommandError && /Invalid job id/i.test(error.message)) return '';
    throw error;
  });
  return out === '' ? undefined : out.split('\n')[0]?.trim();
}

/** JobState and Reason as `scontrol show job` has them; undefined once slurmctld has forgotten the job. */
export async function jobEnding(jobId: string, env: NodeJS.ProcessEnv): Promise<{ state: string; reason: string } | undefined> {
  const out = await slurm('scontrol', ['show', 'job', '--oneliner', jobId], env).catch((error: unknown) => {
    if (error instanceof SlurmCommandError && /Invalid job id/i.test(error.message)) return '';
    throw error;
  });
  const state = /\bJobState=(\S+)/.exec(out)?.[1];
  return state === undefined ? undefined : { state, reason: /\bReason=(\S+)/.exec(out)?.[1] ?? '' };
}

export async function scancel(jobId: string, env: NodeJS.ProcessEnv): Promise<void> {
  await slurm('scancel', [jobId], env);
}
