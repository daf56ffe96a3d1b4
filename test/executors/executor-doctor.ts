// `orch doctor` looks at the executors a config defines, against a real sshd: a host that answers is
// fine (the wrapper is copied on first use: said, not an error), one that cannot be reached and one
// without its workdir are errors naming the host; a Slurm spool that cannot be written is an error.
import t from 'tap';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { doctorProject } from '../../src/project/doctor.js';
import { statePaths } from '../../src/store/paths.js';
import { makeProject } from '../fixtures/project.js';
import { startSshd } from '../fixtures/sshd.js';

t.test('doctor reaches each ssh host once and says what is missing there', async t => {
  const host = await startSshd(t, { alias: 'h1', env: { SHLVL: '1' } });
  const root = t.testdir();
  const workdir = join(root, 'remote-work');
  mkdirSync(workdir);
  makeProject(root, {
    workflow: { isolation: 'none', executor: 'ssh', implement: { command: ['true'] } },
    config: {
      workers: 3,
      executors: {
        ssh: {
          connect_timeout_s: 5,
          hosts: [
            { host: 'h1', ssh_config: host.configFile, workdir },
            { host: 'nowhere', ssh_config: host.configFile, port: 1, workdir },
            { host: 'h1-missing-dir', ssh_config: host.configFile, workdir: join(root, 'no-such-dir') },
          ],
        },
        slurm: { spool_dir: join(root, 'no-spool') },
      },
    },
  });
  // The third entry is h1 under another name: an alias its ssh_config does not know reaches nothing,
  // so it is written as a second Host block of the same sshd.
  appendFileSync(host.configFile, `\n${host.hostBlock.replace(/^Host h1$/m, 'Host h1-missing-dir')}`);
  const report = await doctorProject(statePaths(root));
  const executor = report.problems.filter(p => p.kind === 'executor').map(p => [p.severity, p.message]);
  t.match(executor, [
    ['warning', /\/executors\/ssh\/hosts\/0\/host: h1 does not have this version of the wrapper yet/],
    ['error', /\/executors\/ssh\/hosts\/1\/host: nowhere cannot be reached: /],
    ['error', /\/executors\/ssh\/hosts\/2\/workdir: h1-missing-dir has no folder .*no-such-dir/],
  ]);
  t.ok(report.problems.some(p => p.kind === 'executor' && /\/executors\/slurm\/spool_dir: .*no-spool cannot be written here/.test(p.message)), 'the Slurm spool is checked');
  t.equal(report.healthy, false, 'an unreachable host is an error');
});
