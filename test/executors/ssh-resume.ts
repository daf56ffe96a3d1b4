// kill -9 of the coordinator while a command runs on a host (a real sshd), then `orch --resume`: the
// dead run's remote command is found by its record and runs on, followed by the new run to its end (not
// run twice), and `orch status`, `orch show`, the board and the run log say where it ran.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeProject, readTaskRecord } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { startSshd } from '../fixtures/sshd.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';
import { openBoard, unexpected, WAIT } from '../fixtures/board-browser.js';
import { startServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';

const record = readTaskRecord;

t.test('kill -9 of orch while a remote command runs; --resume follows it on its host to its end', async t => {
  const host = await startSshd(t, { alias: 'h1', env: { SHLVL: '1' } });
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  mkdirSync(workdir);
  // The first command writes its pid and waits for the test's `gate`; a second one (there must be none)
  // would find `pid.1` and end at once.
  const line = 'if [ -e pid.1 ]; then echo $$ > pid.2; exit 0; fi; echo $$ > pid.1; while [ ! -e gate ]; do sleep 0.05; done; echo remote-output';
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

  const resumed = runCli(['--resume', '--once'], { cwd: root, timeoutMs: 60_000 });
  const runLog = (): string => readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8');
  await waitFor('the resumed run to say it follows the command', () => /Attempt 1 of task R1 \(implement\) still runs on h1 \(process group \d+\), started by run/.test(runLog()), 30_000);
  t.ok(isAlive(pid), 'the command was not stopped');
  // The board: the card of the running task, and its attempts, say on which host.
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const { page, problems } = await openBoard(t, server);
  await page.waitForSelector('[data-task="R1"] .host', WAIT);
  t.equal(await page.textContent('[data-task="R1"] .host'), 'on h1', 'the card says where it runs');
  await page.click('.card[data-task="R1"]');
  await page.waitForSelector('#detail[data-task="R1"]:not([hidden])', WAIT);
  t.match(await page.textContent('#detail-attempts tbody'), /h1/, "the task's attempts say their host");
  t.same(unexpected(problems), [], 'no script error on the page');
  writeFileSync(join(workdir, 'gate'), '');
  const result = await resumed;
  t.equal(result.code, 0, result.stderr);
  const doc = record(root, 'R1');
  t.equal(doc?.state, 'DONE');
  const attempts = doc?.attempts.filter(a => a.phase === 'implement') ?? [];
  t.match(attempts, [{ reason: 'succeeded', exit_code: 0, remote: { host: 'h1' } }], 'one attempt, ended on its host');
  t.ok(attempts[0]?.adopted_by !== undefined && attempts[0].adopted_by !== attempts[0].run_id, 'the attempt names the run that followed it');
  t.notOk(existsSync(join(workdir, 'pid.2')), 'the command did not run again');
  t.match(readFileSync(join(root, '.isollm', attempts[0]?.artifacts_dir ?? '', 'stdout.log'), 'utf8'), 'remote-output', "the command's output was collected");
  const show = await runCli(['show', 'R1'], { cwd: root });
  t.match(show.stdout, /HOST/, 'orch show has a host column');
  t.match(runLog(), /Attempt \d+ of task R1 \(implement\) runs on h1 \(ssh, process group \d+\)/, 'the run log says where it ran');
});
