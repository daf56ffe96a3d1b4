import t from 'tap';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveCommand } from '../../src/runner/resolve-command.js';
import { runCommand } from '../../src/runner/run-command.js';

/** An executable shell script at `path` that prints its $0 and arguments. */
function script(path: string, body = 'printf "%s %s\\n" "$0" "$*"'): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

t.test('finds the file execvp would run: the first executable regular file along PATH', async t => {
  const dir = t.testdir({ a: {}, b: {}, c: {} });
  const [a, b, c] = ['a', 'b', 'c'].map(name => join(dir, name)) as [string, string, string];
  writeFileSync(join(a, 'tool'), 'not executable');
  mkdirSync(join(b, 'tool')); // a directory of that name is not a command either
  const found = script(join(c, 'tool'));
  t.equal(resolveCommand('tool', `${a}:${b}:${c}`), found, 'skips the non-executable file and the directory');
  t.equal(resolveCommand('missing', `${a}:${b}:${c}`), undefined, 'not found: left to execvp, which reports it as before');
  t.equal(resolveCommand('./tool', `${c}`), undefined, 'a name with a slash is not searched for');
  t.equal(resolveCommand('tool', `${a}::${c}`), undefined, 'an empty PATH entry (the working directory) leaves the search to execvp');
  t.equal(resolveCommand('tool', `relative:${c}`), undefined, 'so does a relative one');
  t.equal(resolveCommand('tool', undefined), undefined, 'no PATH: execvp\'s own default');
});

t.test('searched at every use: a command installed since earlier on PATH is the one found, as execvp would', async t => {
  const dir = t.testdir({ first: {}, second: {} });
  const path = `${join(dir, 'first')}:${join(dir, 'second')}`;
  const second = script(join(dir, 'second', 'tool'));
  t.equal(resolveCommand('tool', path), second);
  const first = script(join(dir, 'first', 'tool')); // an npm install during the run, say
  t.equal(resolveCommand('tool', path), first);
});

t.test('a command removed since is found again further on', async t => {
  const dir = t.testdir({ first: {}, second: {} });
  const first = script(join(dir, 'first', 'tool'));
  const second = script(join(dir, 'second', 'tool'));
  const path = `${join(dir, 'first')}:${join(dir, 'second')}`;
  t.equal(resolveCommand('tool', path), first);
  rmSync(first);
  t.equal(resolveCommand('tool', path), second);
  rmSync(second);
  t.equal(resolveCommand('tool', path), undefined);
});

t.test('a command found on PATH still sees the name it was given as argv[0]', async t => {
  const dir = t.testdir({ bin: {}, work: {} });
  // node prints the argv[0] it was started with (process.argv0): the bare name, not the resolved path.
  symlinkSync(process.execPath, join(dir, 'bin', 'my-node'));
  const stdoutPath = join(dir, 'out', 'stdout.log');
  const outcome = await runCommand({
    argv: ['my-node', '-e', 'process.stdout.write(process.argv0)'],
    cwd: join(dir, 'work'),
    env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin` },
    stdoutPath,
    stderrPath: join(dir, 'out', 'stderr.log'),
    outputCapBytes: 1024,
  });
  t.equal(outcome.reason, 'succeeded', outcome.error ?? '');
  t.equal(readFileSync(stdoutPath, 'utf8'), 'my-node');
});
