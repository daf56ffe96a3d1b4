// /proc refused (EMFILE: the orchestrator is out of descriptors) proves nothing about a process: it
// must never be taken for "gone", and a runner that cannot read it must not leave its command behind.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCommand } from '../../src/runner/run-command.js';
import { groupIsAlive } from '../../src/runner/process-group.js';
import { livenessOf, readProcessStat, selfIdentity } from '../../src/store/process-identity.js';
import { clearFaults, injectFault } from '../../src/testing/faults.js';
import { waitFor } from '../fixtures/wait-for.js';

/** /proc/<pid>/stat of any process but this one (whose identity is read once and cached). */
const OTHER_STAT = new RegExp(`^/proc/(?!${process.pid}/)\\d+/stat$`);

t.afterEach(() => clearFaults());

t.test('a refused read of /proc/<pid>/stat throws; it never says the process is gone', async t => {
  const self = selfIdentity();
  injectFault('proc.read', { code: 'EMFILE', times: 2 });
  t.throws(() => readProcessStat(process.pid), { code: 'ORCH_INTERNAL', message: /cannot read \/proc\/\d+\/stat: EMFILE/ });
  t.throws(() => livenessOf(self), { code: 'ORCH_INTERNAL' }, 'liveness is not "dead" without proof');
  t.equal(livenessOf(self), 'alive', 'once /proc reads again, the answer is back');
});

t.test('a group whose members cannot be listed is taken as alive, not empty', async t => {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  const pgid = child.pid ?? 0;
  injectFault('proc.list', { code: 'EMFILE' });
  t.equal(groupIsAlive(pgid), true);
});

t.test('a /proc read refused right after the spawn: the command\'s group is killed at once, and the error says why', async t => {
  const dir = t.testdir({});
  const tag = `proc-fault-${process.pid}-${Date.now()}`;
  injectFault('proc.read', { path: OTHER_STAT, code: 'EMFILE' });
  await t.rejects(
    runCommand({
      argv: ['/bin/sh', '-c', 'sleep 30', tag],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdoutPath: join(dir, 'stdout.log'),
      stderrPath: join(dir, 'stderr.log'),
      outputCapBytes: 1024,
      onSpawn: async () => undefined,
    }),
    { code: 'ORCH_INTERNAL', message: /cannot read \/proc\/\d+\/stat: EMFILE/ },
  );
  await waitFor('no process of the command left', () => spawnSync('pgrep', ['-f', tag]).status === 1, 5000);
});
