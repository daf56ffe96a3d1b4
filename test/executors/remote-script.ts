// The start script the ssh executor sends to `sh -s` on a host, run here by the real sh with the real
// wrapper: the spool's files arrive byte for byte (quotes, no final newline, a NUL, a line that looks
// like a delimiter), the environment arrives as given, and the wrapper's exit codes say what is missing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { START_EXIT, startScript, type StartScript } from '../../src/executors/ssh/remote-script.js';
import { waitFor } from '../fixtures/wait-for.js';

const WRAPPER = fileURLToPath(new URL('../../executors/orch-spool-run.sh', import.meta.url));

function runScript(workdir: string, start: Omit<StartScript, 'workdir' | 'wrapper'>, wrapper = 'bin/wrapper.sh') {
  return spawnSync('sh', ['-s'], { input: startScript({ ...start, workdir, wrapper }), encoding: 'utf8', cwd: '/' });
}

t.test('files arrive byte for byte and the environment as given; the wrapper prints the group', async t => {
  const workdir = t.testdir();
  mkdirSync(join(workdir, 'bin'));
  copyFileSync(WRAPPER, join(workdir, 'bin', 'wrapper.sh'));
  const files = {
    'quotes.md': Buffer.from("it's \"quoted\" $HOME `date` \\ and no final newline"),
    'binary.bin': Buffer.from([0x61, 0x00, 0x62, 0x0a, 0x27]),
    'lines.md': Buffer.from('ORCH_EOF_0000\nfirst\n\nlast\n'),
    'utf8.md': Buffer.from('façade — ✓\n'),
  };
  const env = { ORCH_TASK_ID: 'T1', TRICKY: "a'b $c \"d\"\nnext line" };
  const result = runScript(workdir, {
    spool: 'spool/1.1.T1',
    attemptId: 'run/T1/1/1',
    env,
    files,
    argv: ['/bin/sh', '-c', 'printf "%s" "$TRICKY" > env.out; echo "$ORCH_TASK_ID"'],
  });
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /^\d+\n$/, 'the wrapper printed the command\'s group');
  const spool = join(workdir, 'spool', '1.1.T1');
  for (const [name, bytes] of Object.entries(files)) t.same(readFileSync(join(spool, name)), bytes, `${name} arrived as it was`);
  await waitFor('the command to end', () => readFileSync(join(spool, 'exitcode'), 'utf8').length > 0, 10_000).catch(() => undefined);
  t.equal(readFileSync(join(spool, 'exitcode'), 'utf8'), '0 run/T1/1/1\n');
  t.equal(readFileSync(join(workdir, 'env.out'), 'utf8'), env.TRICKY, 'the command ran in the workdir with the variable as given');
  t.equal(readFileSync(join(spool, 'stdout'), 'utf8'), 'T1\n');
});

t.test('a missing workdir or wrapper is its own exit code; names that are no shell names are refused here', async t => {
  const base = t.testdir();
  const start = { spool: 's/1', attemptId: 'a', env: {}, files: {}, argv: ['true'] };
  t.equal(runScript(join(base, 'nowhere'), start).status, START_EXIT.noWorkdir);
  t.equal(runScript(base, start).status, START_EXIT.noWrapper);
  t.throws(() => startScript({ ...start, workdir: base, wrapper: 'w', env: { 'A-B': 'x' } }), /not a variable name/);
  t.throws(() => startScript({ ...start, workdir: base, wrapper: 'w', files: { '../x': 'y' } }), /not a spool file name/);
});
