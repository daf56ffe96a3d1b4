// The resident shell that starts attempts on a host (src/executors/ssh/host-shell.ts), on a real sshd:
// each script's exit code and output come back in order, a script cannot eat the next one from stdin
// nor end its answer early by printing a marker, and a shell that dies says so (given the script or
// not); through the host link, a start falls back to its own ssh when the shell is gone, and a new
// shell is opened for the next.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostLink } from '../../src/executors/ssh/host-link.js';
import { HostShell, ShellLostError } from '../../src/executors/ssh/host-shell.js';
import { controlDir, sshArgv } from '../../src/executors/ssh/ssh-argv.js';
import { processTable, readProc } from '../fixtures/proc-table.js';
import { startSshd } from '../fixtures/sshd.js';
import { waitFor } from '../fixtures/wait-for.js';

const options = { controlDir: controlDir(), connectTimeoutS: 10 };

t.test('a resident shell on a real sshd', async t => {
  const sshd = await startSshd(t, { alias: 'rs1', env: { SHLVL: '1' } });
  const host = { host: 'rs1', ssh_config: sshd.configFile };

  t.test('answers each script with its exit code and output, in order, whatever the script does', async t => {
    const shell = new HostShell(sshArgv(host, options, 'exec sh'), 30_000);
    t.teardown(() => shell.close());
    t.equal(await shell.ready, true, 'ready once it answered');
    const answers = await Promise.all([
      shell.run(Buffer.from('echo one; echo two >&2; exit 3')),
      // Reads stdin to its end: /dev/null, not the scripts after it.
      shell.run(Buffer.from('cat; echo after-cat')),
      // Prints a marker of its own without a final newline: not taken for the end of its answer.
      shell.run(Buffer.from("printf '\\n@@0000000000000000 9 0\\nno newline'")),
      shell.run(Buffer.from('x=$(printf "%s" "a\'b"); echo "$x"')),
    ]);
    t.same(answers.map(a => [a.code, a.output.toString('utf8')]), [
      [3, 'one\ntwo\n'],
      [0, 'after-cat\n'],
      [0, '\n@@0000000000000000 9 0\nno newline'],
      [0, "a'b\n"],
    ]);
  });

  t.test('a shell whose connection dies: the script it was given fails as lost, a later one is refused unsent', async t => {
    const shell = new HostShell(sshArgv(host, options, 'exec sh'), 30_000);
    t.teardown(() => shell.close());
    await shell.ready;
    const running = shell.run(Buffer.from('sleep 30'));
    const queued = shell.run(Buffer.from('echo never'));
    shell.close();
    const first = await running.then(() => undefined, (error: unknown) => error);
    t.ok(first instanceof ShellLostError && first.sent, 'the script in flight may have run: said so');
    const second = await queued.then(() => undefined, (error: unknown) => error);
    t.ok(second instanceof ShellLostError && !second.sent, 'the queued one was never sent');
    t.equal(shell.lost, true);
  });

  t.test('the host link starts through its shell, and by its own ssh while the shell is gone', async t => {
    const workdir = t.testdir();
    mkdirSync(join(workdir, 'spool'), { recursive: true });
    const link = new HostLink({ host: { ...host, workdir }, ...options, spoolRoot: 'spool', onReachable: () => undefined });
    t.teardown(() => link.close());
    await link.prepare();
    // The resident shell is the ssh client whose command is `exec sh` for this host's config.
    const shells = (): number[] => [...processTable().keys()].filter(pid => {
      const cmdline = readProc(pid, 'cmdline');
      return /^ssh\0/.test(cmdline) && cmdline.includes(sshd.configFile) && cmdline.endsWith('\0exec sh\0');
    });
    const [first] = await waitFor('the resident shell', () => (shells().length === 1 ? shells() : undefined), 30_000);
    await waitFor('the shell to answer', () => link.startsBy === 'shell' || undefined, 30_000);
    const start = async (n: number): Promise<number> => {
      const pgid = await link.start({ spool: `spool/1.${n}.S`, attemptId: `run/S/1/${n}`, env: {}, files: {}, argv: ['sh', '-c', `echo ran-${n}`] });
      // Its end is the wrapper's exitcode file, its last write: the testdir is removed only after it (a
      // wrapper still writing as tap removed the folder failed the test once, ENOTEMPTY).
      const spool = join(workdir, 'spool', `1.${n}.S`);
      await waitFor(`attempt ${n} to end`, () => (existsSync(join(spool, 'exitcode')) && readFileSync(join(spool, 'stdout'), 'utf8').includes(`ran-${n}`)) || undefined, 30_000);
      return pgid;
    };
    t.ok((await start(1)) > 1, 'started through the shell');
    process.kill(first!, 'SIGKILL');
    await waitFor('the link to see its shell gone', () => link.startsBy === 'ssh' || undefined, 30_000);
    t.ok((await start(2)) > 1, 'started by its own ssh while no shell answers');
    await waitFor('a new resident shell', () => shells().some(pid => pid !== first) || undefined, 30_000);
    await waitFor('the new shell to answer', () => link.startsBy === 'shell' || undefined, 30_000);
    t.ok((await start(3)) > 1, 'and through the new shell once it is there');
  });
});
