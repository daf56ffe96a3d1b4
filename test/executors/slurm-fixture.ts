// The Slurm fixture (test/fixtures/slurm.ts) with the real programs: a single-node cluster runs batch
// jobs, reports how they end, cancels them, survives a restart of its controller, and leaves nothing
// running. No job here waits for a time limit: Slurm checks them every 30 s (a --time=1 job ends
// TIMEOUT only after 60-90 s).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPrograms, parseJobLine, startSlurm, type SlurmCluster } from '../fixtures/slurm.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';
import { testRoot } from '../fixtures/watch-helpers.js';

/** What the cluster ran, kept to check after its teardown that none of it is left. */
const seen = { dir: '', conf: '', pids: new Set<number>() };

function note(slurm: SlurmCluster): void {
  for (const pid of slurm.processes()) seen.pids.add(pid);
}

/** Pids the job wrote ("<shell> <child>"), once it has: the script itself and a child it started. */
async function jobPids(file: string): Promise<number[]> {
  const text = await waitFor(`${file} to be written by the job`, () => (existsSync(file) ? readFileSync(file, 'utf8') : '').match(/^\d+ \d+\n/)?.[0]);
  return text.trim().split(' ').map(Number);
}

/** A job that runs until it is stopped: the script waits on a child, as a real attempt would. */
async function startLongJob(t: Test, slurm: SlurmCluster, shared: string): Promise<{ id: string; pids: number[] }> {
  const pidFile = join(shared, `long-${Date.now()}`);
  const id = await slurm.sbatch([], `#!/bin/sh\nsleep 300 &\necho "$$ $!" > ${pidFile}\nwait\n`);
  await slurm.untilJob(id, ['RUNNING']);
  const pids = await jobPids(pidFile);
  note(slurm);
  t.ok(pids.every(isAlive), 'the script and its child run');
  const jobProcesses = slurm.jobProcesses();
  t.ok(pids.every(pid => jobProcesses.includes(pid)), 'the fixture counts them as job processes');
  t.ok(jobProcesses.some(pid => comm(pid) === 'slurmstepd'), 'and their slurmstepd');
  return { id, pids };
}

/** A process's name (comm), '' once it is gone. */
function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function untilGone(pids: number[], what: string): Promise<void> {
  await waitFor(`${what} (pids ${pids.join(' ')}) to be gone`, () => !pids.some(isAlive), 10_000);
}

/** Waits until no job process is left: every slurmstepd and whatever the jobs started, gone. */
async function untilNoJobProcess(slurm: SlurmCluster): Promise<void> {
  let left: string[] = [];
  try {
    await waitFor('no job process to be left', () => {
      left = slurm.jobProcesses().map(pid => `${pid} ${comm(pid)}`);
      return left.length === 0;
    }, 10_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; left: ${left.join('; ')}`);
  }
}

/** A Slurm client run as another tool would: its own process, the cluster's env merged into ours. */
function runClient(slurm: SlurmCluster, file: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...slurm.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', code => resolve({ code, stderr }));
  });
}

t.test('a missing program is named with the Debian package that installs it', async t => {
  t.throws(() => findPrograms(['/nonexistent']), /munged \(Debian package munge\).*slurmctld \(Debian package slurmctld\).*\.ci\/run installs them/);
});

t.test('a job line of scontrol is read field by field, values with spaces included', async t => {
  const job = parseJobLine('JobId=7 JobName=a b JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 AllocNode:Sid=vm:1 Command=/tmp/x y/run.sh WorkDir=/tmp');
  t.match(job, { id: '7', state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: 0 });
  t.equal(job.fields.JobName, 'a b');
  t.equal(job.fields.Command, '/tmp/x y/run.sh');
  t.equal(job.fields['AllocNode:Sid'], 'vm:1');
});

t.test('a real single-node cluster', async t => {
  const shared = testRoot(t); // where jobs write what the test reads
  const slurm = await startSlurm(t);
  seen.dir = slurm.dir;
  seen.conf = slurm.conf;
  note(slurm);
  t.ok(slurm.daemons().munged && slurm.daemons().slurmctld && slurm.daemons().slurmd, 'munged, slurmctld and slurmd run');

  t.test('a job runs its script, writes in a shared dir, and ends COMPLETED or FAILED with its exit code', async t => {
    const script = (code: number): string => `#!/bin/sh\necho "$SLURM_JOB_ID on $SLURMD_NODENAME" > ${shared}/ran-$SLURM_JOB_ID\nexit ${code}\n`;
    // Both at once: CR_Core lets the 2 CPUs run two jobs together.
    const [ok, failing] = await Promise.all([slurm.sbatch([], script(0)), slurm.sbatch([], script(3))]);
    t.match(await slurm.untilJob(ok, ['COMPLETED', 'FAILED']), { state: 'COMPLETED', exitCode: 0, signal: 0 });
    t.match(await slurm.untilJob(failing, ['COMPLETED', 'FAILED']), { state: 'FAILED', exitCode: 3, reason: 'NonZeroExitCode' });
    t.equal(readFileSync(join(shared, `ran-${ok}`), 'utf8'), `${ok} on ${slurm.node}\n`);
    t.equal(readFileSync(join(shared, `ran-${failing}`), 'utf8'), `${failing} on ${slurm.node}\n`);
    t.equal(await slurm.squeue(ok), undefined, 'an ended job leaves the queue');
    t.equal((await slurm.jobState(ok))?.fields.Partition, slurm.partition, 'scontrol still knows it (MinJobAge)');
    t.equal(await slurm.jobState('999999'), undefined, 'an unknown job is undefined');
  });

  t.test('--export=ALL,NAME=value gives the job NAME beside the submitter\'s own environment', async t => {
    // Not --export=NAME=value alone: then slurmd loads root's login environment (su - root) instead
    // of sbatch's, which is slower and drops what the submitter set.
    const out = join(shared, 'env');
    const id = await slurm.sbatch(['--export=ALL,ORCH_ATTEMPT=T1/2'], `#!/bin/sh\necho "$ORCH_ATTEMPT $ORCH_FROM_SUBMITTER $SLURM_CONF" > ${out}\n`, { env: { ORCH_FROM_SUBMITTER: 'yes' } });
    t.match(await slurm.untilJob(id, ['COMPLETED', 'FAILED']), { state: 'COMPLETED' });
    t.equal(readFileSync(out, 'utf8'), `T1/2 yes ${slurm.conf}\n`);
  });

  t.test('a long job is RUNNING until scancel; then it is CANCELLED and its processes are gone', async t => {
    const { id, pids } = await startLongJob(t, slurm, shared);
    t.equal(await slurm.squeue(id), 'RUNNING');
    await slurm.scancel(id);
    t.match(await slurm.untilJob(id, ['CANCELLED']), { state: 'CANCELLED' });
    await untilGone(pids, 'the cancelled job\'s processes');
    await untilNoJobProcess(slurm);
  });

  t.test('a job cancelled by another tool (scancel of its own) is seen CANCELLED', async t => {
    const { id, pids } = await startLongJob(t, slurm, shared);
    const scancel = await runClient(slurm, 'scancel', [id]);
    t.equal(scancel.code, 0, 'scancel succeeded', { stderr: scancel.stderr });
    t.match(await slurm.untilJob(id, ['CANCELLED']), { state: 'CANCELLED' });
    await untilGone(pids, 'the cancelled job\'s processes');
  });

  t.test('slurmctld stopped and started again: the running job runs on and is still known, the same', async t => {
    const { id, pids } = await startLongJob(t, slurm, shared);
    const before = await slurm.untilJob(id, ['RUNNING']);
    const oldController = slurm.daemons().slurmctld ?? 0;
    await slurm.stopController();
    t.notOk(isAlive(oldController), 'slurmctld is gone');
    t.ok(pids.every(isAlive), 'the job runs on without its controller');
    await slurm.startController();
    const after = await slurm.untilJob(id, ['RUNNING']);
    t.equal(after.fields.StartTime, before.fields.StartTime, 'the same run, not a new start');
    t.equal(after.fields.Restarts, '0', 'not requeued');
    t.ok(pids.every(isAlive), 'the same processes');
    await slurm.scancel(id);
    await slurm.untilJob(id, ['CANCELLED']);
    await untilGone(pids, 'the cancelled job\'s processes');
  });

  t.test('a job that ends while slurmctld is down is seen with its exit code once slurmctld is back', async t => {
    const go = join(shared, 'go');
    const pidFile = join(shared, 'waiting');
    const id = await slurm.sbatch([], `#!/bin/sh\nsleep 300 &\necho "$$ $!" > ${pidFile}\nwhile [ ! -e ${go} ]; do sleep 0.05; done\nkill $!\nexit 5\n`);
    await slurm.untilJob(id, ['RUNNING']);
    const pids = await jobPids(pidFile);
    note(slurm);
    await slurm.stopController();
    writeFileSync(go, '');
    await untilGone(pids, 'the job\'s processes');
    await slurm.startController();
    t.match(await slurm.untilJob(id, ['COMPLETED', 'FAILED']), { state: 'FAILED', exitCode: 5 });
  });

  t.test('restartController() in one call', async t => {
    await slurm.restartController();
    const id = await slurm.sbatch([], '#!/bin/sh\nexit 0\n');
    t.match(await slurm.untilJob(id, ['COMPLETED', 'FAILED']), { state: 'COMPLETED' });
    note(slurm);
  });
});

t.test('after the cluster test\'s teardown nothing of it is left running', async t => {
  t.ok(seen.pids.size > 3, 'processes were noted while jobs ran');
  const alive = [...seen.pids].filter(isAlive);
  t.same(alive, [], 'every daemon, slurmstepd and job process seen is gone');
  // Any process at all still pointing at the cluster: a job's environment names its slurm.conf.
  const marked = readdirSync('/proc').filter(name => /^\d+$/.test(name) && isAlive(Number(name))).filter(pid => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`SLURM_CONF=${seen.conf}`);
    } catch {
      return false;
    }
  });
  t.same(marked, [], 'no process carries the cluster\'s SLURM_CONF');
  t.notOk(existsSync(seen.dir), 'its dir is removed');
});
