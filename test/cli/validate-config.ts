import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';

t.test('orch validate: an unknown placeholder and an invalid classification pattern are errors, each with its JSON path', async t => {
  const root = makeProject(t.testdir({}), {
    workflow: {
      implement: { command: [process.execPath, '-e', '', '{{task.gaol}}'] },
      retry: { non_retryable: { patterns: ['([unclosed'] } },
    },
  });
  const result = await runCli(['validate'], { cwd: root });
  t.equal(result.code, 2, result.stdout);
  t.match(result.stdout, /\/workflows\/default\/implement\/command: unknown placeholder \{\{task\.gaol\}\}/);
  t.match(result.stdout, /\/workflows\/default\/retry\/non_retryable\/patterns: invalid regular expression "\(\[unclosed"/);
});

t.test('{{task.<field>}} of a field this spec leaves out is empty at run time, not a failed task', async t => {
  const out = join(t.testdir({}), 'area.txt');
  const root = makeProject(t.testdir({}), {
    workflow: { implement: { command: [process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], "[" + process.argv[2] + "]")', out, '{{task.area}}'] } },
    tasks: { T1: { goal: 'no area' } },
  });
  t.equal((await runCli(['validate'], { cwd: root })).code, 0);
  const run = await runCli(['--once'], { cwd: root });
  t.equal(run.code, 0, run.stderr);
  t.equal(readFileSync(out, 'utf8'), '[]');
});

t.test('orch --once with a broken config names every problem at once, one a line, and exits 2', async t => {
  const root = makeProject(t.testdir({}), {
    workflow: { implement: { command: ['x', '{{task.gaol}}'] }, retry: { rate_limit: { patterns: ['('] } } },
    config: { launchers: [[]] },
  });
  const result = await runCli(['--once'], { cwd: root });
  t.equal(result.code, 2);
  t.match(result.stderr, /config\.json: 3 problems:\n {2}\/workflows\/default\/retry\/rate_limit\/patterns: .*\n {2}\/workflows\/default\/implement\/command: unknown placeholder \{\{task\.gaol\}\}.*\n {2}\/launchers\/0: a launcher needs at least a program/);
  t.notMatch(result.stderr, /and \d+ more/);
});

t.test('orch validate and executors: ssh without a pool, a host listed twice, more slots than workers, remote commands not looked for here', async t => {
  const bare = makeProject(t.testdir({}), { workflow: { executor: 'ssh', implement: { command: ['true'] } } });
  const refused = await runCli(['validate'], { cwd: bare });
  t.equal(refused.code, 2);
  t.match(refused.stdout, /\/workflows\/default\/executor: executor "ssh" needs executors\.ssh\.hosts in the config/);
  const noCluster = makeProject(t.testdir({}), { workflow: { implement: { command: ['true'], executor: 'slurm' } } });
  t.match((await runCli(['validate'], { cwd: noCluster })).stdout, /\/workflows\/default\/implement\/executor: executor "slurm" needs executors\.slurm/);
  // A Slurm job's output is read as it grows: its stall timeout applies, and nothing is said of it.
  const cluster = makeProject(t.testdir({}), { workflow: { implement: { command: ['true'], executor: 'slurm', retry: { stall_timeout_s: 30 } } }, config: { executors: { slurm: { spool_dir: '/shared/spool' } } } });
  t.notMatch((await runCli(['validate'], { cwd: cluster })).stdout, /stall_timeout_s/);

  const root = makeProject(t.testdir({}), {
    workflow: { implement: { command: ['only-on-the-build-host'], executor: 'ssh', retry: { stall_timeout_s: 30 } }, code_review: { command: ['nowhere-here'] } },
    config: { workers: 2, executors: { ssh: { hosts: [{ host: 'b1', slots: 2 }, { host: 'b1' }] } } },
  });
  const result = await runCli(['validate'], { cwd: root });
  t.equal(result.code, 2);
  t.match(result.stdout, /\/executors\/ssh\/hosts\/1\/host: host "b1" is listed twice/);
  t.match(result.stdout, /\/workers: the ssh pool has 3 slots but only 2 worker\(s\)/);
  t.match(result.stdout, /\/workflows\/default\/implement\/executor: a command run over ssh is read when it has ended: stall_timeout_s \(30s\) does not apply/);
  t.notMatch(result.stdout, /only-on-the-build-host/, 'a program run on a host is not looked for here');
  t.match(result.stdout, /command "nowhere-here" is not found/, 'a local one still is');
});
