// kill -9 of the coordinator while a command runs on a host (a real sshd), then `orch --resume`: the
// dead run's remote command is found by its record and stopped there, the task runs again, and
// `orch status` / `orch show` say where its attempts ran.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeProject, readTaskRecord } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { startSshd } from '../fixtures/sshd.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

const record = readTaskRecord;

t.test('kill -9 of orch while a remote command runs; --resume stops it on its host and runs the task again', async t => {
  const host = await startSshd(t, { alias: 'h1', env: { SHLVL: '1' } });
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  mkdirSync(workdir);
  // The first run's command writes its pid and waits for ever; the second finds `pid.1` and ends at once.
  const line = 'if [ -e pid.1 ]; then echo $$ > pid.2; exit 0; fi; echo $$ > pid.1; while :; do sleep 0.05; done';
  makeProject(root, {
    workflow: { isolation: 'none', executor: 'ssh', implement: { command: ['/bin/sh', '-c', line] }, retry: { max_attempts: 2, base_delay_s: 0.01, max_delay_s: 0.05, jitter: 0 } },
    config: { workers: 1, executors: { ssh: { hosts: [{ host: 'h1', ssh_config: host.configFile, workdir }] } } },
    tasks: { R1: { goal: 'survive a crash of the coordinator' } },
  });
  const orch = spawn(process.execPath, [ORCH_BIN, '--once'], { cwd: root, stdio: 'ignore' });
  t.teardown(() => {
    if (orch.exitCode === null) orch.kill('SIGKILL');
  });
  const pid = await waitFor('the command to run on the host', () => (existsSync(join(workdir, 'pid.1')) ? Number(readFileSync(join(workdir, 'pid.1'), 'utf8')) : undefined), 30_000);
  await waitFor('the record to say where it runs', () => record(root, 'R1')?.attempts.find(a => a.remote?.pgid !== undefined), 30_000);
  const status = await runCli(['status', '--json'], { cwd: root });
  t.match(JSON.parse(status.stdout), { tasks: [{ id: 'R1', host: 'h1' }] }, 'orch status says on which host it runs');
  orch.kill('SIGKILL');
  await new Promise(resolve => orch.once('exit', resolve));
  t.ok(isAlive(pid), 'the command runs on after the coordinator died');

  const resumed = await runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(resumed.code, 0, resumed.stderr);
  t.notOk(isAlive(pid), 'the dead run\'s command was stopped on its host');
  const doc = record(root, 'R1');
  t.equal(doc?.state, 'DONE');
  t.same(doc?.attempts.filter(a => a.phase === 'implement').map(a => [a.reason, a.remote?.host]), [['interrupted', 'h1'], ['succeeded', 'h1']], 'interrupted, then run again on its host');
  t.ok(existsSync(join(workdir, 'pid.2')), 'the second attempt ran');
  const show = await runCli(['show', 'R1'], { cwd: root });
  t.match(show.stdout, /HOST/, 'orch show has a host column');
  t.match(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /Attempt \d+ of task R1 \(implement\) runs on h1 \(ssh, process group \d+\)/, 'the run log says where it ran');
});
