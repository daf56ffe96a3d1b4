// The ssh executor against real sshds (test/fixtures/sshd.ts): tasks run on hosts of a pool, their
// output, result file and exit codes come back, the slot caps hold, a cancel and a timeout kill the
// remote group, a dropped watch connection reattaches without running a command twice.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SshHost, TaskRecord, Workflow } from '../../src/generated/types.js';
import { runOnce, startOrchestrator } from '../../src/runtime/orchestrator.js';
import { makeProject } from '../fixtures/project.js';
import { startSshd, type SshdHandle } from '../fixtures/sshd.js';
import { waitFor } from '../fixtures/wait-for.js';
import { processTable, readProc } from '../fixtures/proc-table.js';
import { git, initRepo } from '../fixtures/git-repo.js';

/** Each remote command appends a line here (one per run of it): a second line is a duplicate run. */
const RUN_LOG = 'runs.log';

function record(root: string, id: string): TaskRecord {
  return JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', `${id}.json`), 'utf8')) as TaskRecord;
}

function poolHost(handle: SshdHandle, workdir: string, slots = 1): SshHost {
  mkdirSync(workdir, { recursive: true });
  return { host: handle.alias, ssh_config: handle.configFile, slots, workdir };
}

/** A workflow whose implement phase runs `line` (a shell line) on the pool. */
function remoteWorkflow(line: string, retry: Workflow['retry'] = { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 }): Workflow {
  return { isolation: 'none', executor: 'ssh', implement: { command: ['/bin/sh', '-c', line] }, retry };
}

async function hosts(t: Test, ...aliases: string[]): Promise<SshdHandle[]> {
  return Promise.all(aliases.map(alias => startSshd(t, { alias, env: { SHLVL: '1' } })));
}

/**
 * Every process whose environment names this test's project (so: every remote command it started: its
 * artifacts folder is its spool, under the test's dir).
 */
function commandsOf(root: string): number[] {
  const prefix = `ORCH_ARTIFACTS_DIR=${root}/`;
  const pids: number[] = [];
  for (const [pid, stat] of processTable()) {
    if (stat.state === 'Z') continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').some(entry => entry.startsWith(prefix))) pids.push(pid);
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

t.test('a task runs on a host of the pool: its output, result file, environment and exit code come back', async t => {
  const [host] = await hosts(t, 'h1');
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  const line = [
    `echo "$ORCH_TASK_ID:$$" >> ${RUN_LOG}`,
    'echo "out on $(pwd)"',
    'echo "err line" >&2',
    'head -c 40 "$ORCH_TASK_FILE" | grep -q goal || exit 9',
    'printf \'{"outcome":"done","reason":"remote"}\' > "$ORCH_RESULT_FILE"',
  ].join('; ');
  makeProject(root, {
    workflow: remoteWorkflow(line),
    config: { workers: 2, executors: { ssh: { hosts: [poolHost(host!, workdir)] } } },
    tasks: { R1: { goal: 'run remotely' } },
  });
  const result = await runOnce(root);
  t.same(result.done, ['R1']);
  const doc = record(root, 'R1');
  const attempt = doc.attempts.find(a => a.phase === 'implement');
  t.match(attempt, { reason: 'succeeded', exit_code: 0, remote: { executor: 'ssh', host: 'h1', pgid: Number } }, 'the attempt says where it ran');
  t.equal(attempt?.process, undefined, 'no local process is recorded for it');
  const dir = join(root, '.isollm', attempt?.artifacts_dir ?? '');
  t.equal(readFileSync(join(dir, 'stdout.log'), 'utf8'), `out on ${workdir}\n`, 'stdout came back; the command ran in the host\'s workdir');
  t.equal(readFileSync(join(dir, 'stderr.log'), 'utf8'), 'err line\n');
  t.match(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')), { outcome: 'done', reason: 'remote' }, 'the result file came back');
  t.equal(readFileSync(join(workdir, RUN_LOG), 'utf8').split('\n').filter(Boolean).length, 1, 'it ran once');
  const spoolRoot = join(workdir, '.orch', 'spool');
  t.same(readdirSync(spoolRoot).flatMap(key => readdirSync(join(spoolRoot, key))), [], 'the spool of the ended attempt was removed');
});

t.test('a failing remote command fails its attempt with its exit code and is retried', async t => {
  const [host] = await hosts(t, 'h1');
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  makeProject(root, {
    workflow: remoteWorkflow(`echo run >> ${RUN_LOG}; echo "no luck" >&2; exit 3`),
    config: { workers: 1, executors: { ssh: { hosts: [poolHost(host!, workdir)] } } },
    tasks: { F1: { goal: 'fail remotely' } },
  });
  const result = await runOnce(root);
  t.same(result.done, []);
  const attempts = record(root, 'F1').attempts.filter(a => a.phase === 'implement');
  t.equal(attempts.length, 2, 'both attempts ran');
  t.match(attempts[0], { reason: 'failed', exit_code: 3, error: /exited with code 3 on h1: no luck/ });
  t.equal(readFileSync(join(workdir, RUN_LOG), 'utf8'), 'run\nrun\n');
});

t.test('two hosts share the load by their slot caps: never more at once than a host has slots', async t => {
  const [a, b] = await hosts(t, 'ha', 'hb');
  const root = t.testdir();
  const workA = join(root, 'work-a');
  const workB = join(root, 'work-b');
  // Each command notes its start and end with a clock the test can compare across hosts.
  const line = `d=$(date +%s%N); echo "start $d $ORCH_TASK_ID" >> ${RUN_LOG}; sleep 0.4; echo "end $(date +%s%N) $ORCH_TASK_ID" >> ${RUN_LOG}`;
  const tasks = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`S${i + 1}`, { goal: `slot ${i + 1}` }]));
  makeProject(root, {
    workflow: remoteWorkflow(line),
    config: { workers: 6, executors: { ssh: { hosts: [poolHost(a!, workA, 2), poolHost(b!, workB, 1)] } } },
    tasks,
  });
  const result = await runOnce(root);
  t.equal(result.done.length, 6, 'every task is done');
  const placed = Object.keys(tasks).map(id => record(root, id).attempts.find(x => x.phase === 'implement')?.remote?.host);
  t.ok(placed.includes('ha') && placed.includes('hb'), `both hosts took tasks (${placed.join(', ')})`);
  for (const [dir, slots] of [[workA, 2], [workB, 1]] as const) {
    const events = readFileSync(join(dir, RUN_LOG), 'utf8').split('\n').filter(Boolean).map(row => row.split(' ')).map(([kind, at]) => ({ kind, at: BigInt(at ?? '0') }));
    events.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
    let running = 0;
    let most = 0;
    for (const event of events) {
      running += event.kind === 'start' ? 1 : -1;
      most = Math.max(most, running);
    }
    t.ok(most <= slots, `${dir}: at most ${slots} at once (saw ${most})`);
  }
});

t.test('cancel and timeout kill the remote group: nothing of the command is left running', async t => {
  const [host] = await hosts(t, 'h1');
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  // A command that starts a child in its group and waits: both must go.
  makeProject(root, {
    workflow: remoteWorkflow(`echo run >> ${RUN_LOG}; sleep 300 & wait`, { max_attempts: 1, timeout_s: 2 }),
    config: { workers: 1, executors: { ssh: { hosts: [poolHost(host!, workdir)] } } },
    tasks: { K1: { goal: 'time out remotely' } },
  });
  const result = await runOnce(root);
  t.same(result.done, []);
  t.match(record(root, 'K1').attempts.find(a => a.phase === 'implement'), { reason: 'timed_out', error: /timed out after 2s: its process group on h1 was stopped/ });
  // The wrapper's monitor outlives the command by up to 5 s (it stops what the command left in its group).
  const left = (): string[] => commandsOf(root).map(pid => readProc(pid, 'cmdline').replace(/\0/g, ' '));
  await waitFor('nothing of the command left running', () => left().length === 0, 20_000).catch(() => undefined);
  t.same(left(), [], 'no process of the command is left');
});

t.test('the watch connection dropped mid-run: the link connects again and reads the end; the command ran once', async t => {
  const [host] = await hosts(t, 'h1');
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  const go = join(root, 'go');
  makeProject(root, {
    workflow: remoteWorkflow(`echo run >> ${RUN_LOG}; while [ ! -e ${go} ]; do sleep 0.05; done; echo finished`),
    config: { workers: 1, executors: { ssh: { hosts: [poolHost(host!, workdir)] } } },
    tasks: { W1: { goal: 'outlive a dropped connection' } },
  });
  const orchestrator = await startOrchestrator(root);
  await waitFor('the command to run on the host', () => existsSync(join(workdir, RUN_LOG)), 30_000);
  // The watch is an ssh client of orch's whose command names this workdir: kill -9 it, and the session is gone.
  const watches = (): number[] => [...processTable().keys()].filter(pid => /^ssh\0/.test(readProc(pid, 'cmdline')) && readProc(pid, 'cmdline').includes(`${workdir} && exec sh`) && readProc(pid, 'cmdline').includes(' watch '));
  await waitFor('orch\'s watch of the host', () => watches().length > 0, 30_000);
  const [watch] = watches();
  process.kill(watch!, 'SIGKILL');
  await waitFor('a new watch', () => watches().some(pid => pid !== watch), 30_000);
  writeFileSync(go, '');
  const result = await orchestrator.done;
  t.same(result.done, ['W1']);
  t.equal(readFileSync(join(workdir, RUN_LOG), 'utf8'), 'run\n', 'the command ran once');
  const attempt = record(root, 'W1').attempts.find(a => a.phase === 'implement');
  t.equal(readFileSync(join(root, '.isollm', attempt?.artifacts_dir ?? '', 'stdout.log'), 'utf8'), 'finished\n');
});

t.test('with a worktree: the branch goes to the host by git, the command works in a worktree there, its work comes back as a checkpoint', async t => {
  const [host] = await hosts(t, 'h1');
  const dir = t.testdir();
  const root = join(dir, 'repo');
  const workdir = join(dir, 'remote-work');
  // Attempt 1 leaves junk and fails; attempt 2 must not see it (the host's worktree is reset to the
  // branch), reads the file the base commit has, and makes one.
  const line = [
    'if [ "$ORCH_ATTEMPT" = 1 ]; then echo junk > junk.txt; exit 1; fi',
    '[ ! -e junk.txt ] || exit 8',
    '[ "$PWD" = "$ORCH_WORKTREE" ] || exit 9',
    'echo "made on the host from $(cat base.txt)" > made.txt',
  ].join('; ');
  makeProject(root, {
    workflow: { isolation: 'worktree', executor: 'ssh', implement: { command: ['/bin/sh', '-c', line] }, retry: { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 } },
    config: { workers: 1, worktree_root: join(dir, 'worktrees'), executors: { ssh: { hosts: [poolHost(host!, workdir)] } } },
    tasks: { G1: { goal: 'edit on the host' } },
  });
  initRepo(root, { 'base.txt': 'the base' });
  const result = await runOnce(root);
  t.same(result.done, ['G1'], JSON.stringify(record(root, 'G1').attempts.map(a => a.error)));
  const attempts = record(root, 'G1').attempts.filter(a => a.phase === 'implement');
  t.match(attempts, [{ reason: 'failed', exit_code: 1 }, { reason: 'succeeded', checkpoint: /^[0-9a-f]{40}$/ }]);
  t.equal(git(root, 'show', 'orch/G1:made.txt'), 'made on the host from the base', 'the work is on the task\'s branch here');
  t.equal(git(root, 'rev-parse', 'orch/G1'), attempts[1]?.checkpoint, 'as orch\'s checkpoint');
  t.notMatch(git(root, 'ls-tree', '--name-only', 'orch/G1'), /junk/, 'what the failed attempt left never reached the branch');
  t.ok(existsSync(join(workdir, '.orch', 'worktrees', 'G1', 'made.txt')), 'the command ran in the host\'s worktree of the task');
});

t.test('a host lost mid-run: queued tasks go to the other host; when it is back, its command\'s end is read, and nothing ran twice', async t => {
  const [a, b] = await hosts(t, 'ha', 'hb');
  const root = t.testdir();
  const work = { ha: join(root, 'work-a'), hb: join(root, 'work-b') };
  const go = join(root, 'go');
  const line = `echo "start $ORCH_TASK_ID" >> ${RUN_LOG}; while [ ! -e ${go} ]; do sleep 0.05; done; echo "end $ORCH_TASK_ID" >> ${RUN_LOG}`;
  const ids = ['L1', 'L2', 'L3', 'L4'];
  makeProject(root, {
    workflow: remoteWorkflow(line, { max_attempts: 1 }),
    config: { workers: 2, executors: { ssh: { host_down_grace_s: 120, hosts: [poolHost(a!, work.ha), poolHost(b!, work.hb)] } } },
    tasks: Object.fromEntries(ids.map(id => [id, { goal: `wait for go as ${id}` }])),
  });
  const runsOn = (host: 'ha' | 'hb'): string[] => (existsSync(join(work[host], RUN_LOG)) ? readFileSync(join(work[host], RUN_LOG), 'utf8').split('\n').filter(Boolean) : []);
  const orchestrator = await startOrchestrator(root);
  await waitFor('a command on each host', () => runsOn('ha').length === 1 && runsOn('hb').length === 1, 30_000);
  const [lostTask] = runsOn('ha').map(row => row.split(' ')[1]);
  await a!.kill({ connections: true }); // ha's network is gone; its command runs on
  writeFileSync(go, '');
  await waitFor('the queued tasks to be done on hb', () => ids.filter(id => record(root, id).state === 'DONE').length === 3, 60_000);
  t.equal(record(root, lostTask!).state, 'IMPLEMENTING', `${lostTask} waits for its host: its end is a file there`);
  t.match(runsOn('ha'), [`start ${lostTask}`, `end ${lostTask}`], 'its command ended there meanwhile');
  await a!.restart();
  const result = await orchestrator.done;
  t.same(result.done.sort(), ids, 'every task is done');
  const started = [...runsOn('ha'), ...runsOn('hb')].filter(row => row.startsWith('start ')).map(row => row.slice(6)).sort();
  t.same(started, ids, 'each command ran once');
  t.same(runsOn('ha').filter(row => row.startsWith('start')), [`start ${lostTask}`], 'nothing was placed on the lost host');
  t.match(record(root, lostTask!).attempts.filter(x => x.phase === 'implement'), [{ reason: 'succeeded', remote: { host: 'ha' } }]);
});

t.test('a host that stays lost past host_down_grace_s: its attempt is interrupted (no attempt spent) and the task runs on another host', async t => {
  const [a, b] = await hosts(t, 'ha', 'hb');
  const root = t.testdir();
  const work = { ha: join(root, 'work-a'), hb: join(root, 'work-b') };
  // On ha the command never ends by itself; on hb it ends at once.
  const line = `echo "start $ORCH_TASK_ID" >> ${RUN_LOG}; [ "$(basename "$PWD")" = work-b ] && exit 0; sleep 600`;
  makeProject(root, {
    workflow: remoteWorkflow(line, { max_attempts: 1 }),
    config: { workers: 1, executors: { ssh: { host_down_grace_s: 1, hosts: [poolHost(a!, work.ha), poolHost(b!, work.hb)] } } },
    tasks: { D1: { goal: 'outlive a lost host' } },
  });
  const orchestrator = await startOrchestrator(root);
  await waitFor('the command to run on ha', () => existsSync(join(work.ha, RUN_LOG)), 30_000);
  await a!.kill({ connections: true });
  const result = await orchestrator.done;
  t.same(result.done, ['D1']);
  const attempts = record(root, 'D1').attempts.filter(x => x.phase === 'implement');
  t.match(attempts, [
    { reason: 'interrupted', remote: { host: 'ha' }, error: /ha could not be reached for 1 s: the attempt is given up \(its command may still run there, in process group \d+\)/ },
    { reason: 'succeeded', remote: { host: 'hb' } },
  ]);
  t.match(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /interrupted/, 'the run log says so');
});
