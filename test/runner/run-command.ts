import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../src/clock.js';
import type { ProcessIdentity } from '../../src/generated/types.js';
import { bootId } from '../../src/store/process-identity.js';
import { classifyFailure } from '../../src/runner/classify.js';
import { listGroupMembers, readProcessStat } from '../../src/runner/process-group.js';
import { runCommand, type RunCommandOptions } from '../../src/runner/run-command.js';

import { isAlive as alive, waitFor } from '../fixtures/wait-for.js';

const agent = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));



/** Kills, at teardown, whatever is left of a group or of the given pids (a failing test must not leak). */
function reap(t: Test, pgid: () => number | undefined, pids: () => number[] = () => []): void {
  t.teardown(() => {
    const group = pgid();
    const left = [...(group === undefined ? [] : listGroupMembers(group).map(member => member.pid)), ...pids()];
    for (const pid of left) {
      try {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Options for a fixture run in a fresh test dir, with the group reaped at teardown. */
function setup(t: Test, script: string, args: string[] = [], extra: Partial<RunCommandOptions> = {}) {
  const dir = t.testdir({});
  let identity: ProcessIdentity | undefined;
  reap(t, () => identity?.pgid);
  const options: RunCommandOptions = {
    argv: [process.execPath, agent(script), ...args],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdoutPath: join(dir, 'attempt', 'stdout.log'),
    stderrPath: join(dir, 'attempt', 'stderr.log'),
    outputCapBytes: 1024 * 1024,
    killGraceMs: 300,
    onSpawn: async id => {
      identity = id;
    },
    ...extra,
  };
  return { dir, options, identity: () => identity };
}

/** A clock that moves only when told: sleeps resolve when `advance` passes their time. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_700_000_000_000;
  const sleepers: { at: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>(resolve => {
        if (signal?.aborted) return resolve();
        sleepers.push({ at: now + ms, resolve });
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
    advance(ms) {
      now += ms;
      for (const sleeper of sleepers.filter(s => s.at <= now)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.resolve();
      }
    },
  };
}

t.test('a command that exits 0 succeeds, and its stdout is in the file and the tail', async t => {
  const { options } = setup(t, 'agent-exit.mjs', ['0', 'hello out', 'hello err']);
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  t.equal(outcome.exit_code, 0);
  t.equal(outcome.signal, null);
  t.equal(outcome.error, undefined);
  t.equal(readFileSync(options.stdoutPath, 'utf8'), 'hello out\n');
  t.equal(readFileSync(options.stderrPath, 'utf8'), 'hello err\n');
  t.match(outcome.output_tail, 'hello out');
  t.match(outcome.output_tail, 'hello err');
  t.same(outcome.truncated, { stdout: false, stderr: false });
  t.ok(outcome.duration_ms >= 0);
});

t.test('a command that exits 3 fails with its exit code, and its stderr is kept in the file', async t => {
  const { options } = setup(t, 'agent-exit.mjs', ['3', '', 'TypeError: boom']);
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.exit_code, 3);
  t.equal(outcome.error, 'exited with code 3');
  t.equal(readFileSync(options.stderrPath, 'utf8'), 'TypeError: boom\n');
  t.equal(readFileSync(options.stdoutPath, 'utf8'), '');
});

t.test('a timeout stops the command and its grandchild that ignores SIGTERM and holds stdout', async t => {
  const clock = manualClock();
  const { dir, options } = setup(t, 'agent-grandchild.mjs', [], { timeoutMs: 1000, clock });
  const pidFile = join(dir, 'pids');
  options.argv.push(pidFile, 'stay');
  const pids = (): number[] => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : []);
  reap(t, () => undefined, pids);
  const running = runCommand(options);
  await waitFor('the fixture to start its grandchild', () => pids().length === 2);
  const [child = 0, grandchild = 0] = pids();
  t.ok(alive(child) && alive(grandchild), 'both run before the timeout');
  clock.advance(1000);
  const outcome = await running;
  t.equal(outcome.reason, 'timed_out');
  t.equal(outcome.exit_code, null);
  t.equal(outcome.signal, 'SIGTERM');
  t.match(outcome.error, /timed out after 1s/);
  t.notOk(alive(child), 'the child is gone');
  t.notOk(alive(grandchild), 'the grandchild that ignored SIGTERM is gone too');
  t.match(readFileSync(options.stdoutPath, 'utf8'), 'grandchild up', 'what the grandchild printed is kept');
});

t.test('a command that exits while its grandchild holds stdout still settles, and the grandchild is stopped', async t => {
  const { dir, options } = setup(t, 'agent-grandchild.mjs');
  const pidFile = join(dir, 'pids');
  options.argv.push(pidFile, 'exit');
  const pids = (): number[] => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : []);
  reap(t, () => undefined, pids);
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  t.equal(outcome.exit_code, 0);
  const [, grandchild = 0] = pids();
  t.ok(grandchild > 0, 'the fixture recorded its grandchild');
  t.notOk(alive(grandchild), 'the grandchild is gone when runCommand returns');
  t.match(readFileSync(options.stdoutPath, 'utf8'), 'child up');
  t.match(readFileSync(options.stdoutPath, 'utf8'), 'grandchild up');
});

t.test('a process that left the group and holds stdout does not hold the attempt: reading stops', async t => {
  const { dir, options } = setup(t, 'agent-grandchild.mjs');
  const pidFile = join(dir, 'pids');
  options.argv.push(pidFile, 'escape');
  const pids = (): number[] => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : []);
  reap(t, () => undefined, pids);
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  t.match(outcome.output_error, /kept its output open/);
  const [, escaped = 0] = pids();
  t.ok(alive(escaped), 'a process outside the group is not the runner\'s to kill');
  process.kill(escaped, 'SIGKILL');
});

t.test('a command that prints once then goes silent is stalled and stopped', async t => {
  const clock = manualClock();
  let printed = false;
  const { options, identity } = setup(t, 'agent-sleep.mjs', [], { stallTimeoutMs: 500, clock, onOutput: () => (printed = true) });
  const running = runCommand(options);
  await waitFor('the fixture to print once', () => printed);
  clock.advance(500);
  const outcome = await running;
  t.equal(outcome.reason, 'stalled');
  t.equal(outcome.signal, 'SIGTERM');
  t.match(outcome.error, /no output for 0\.5s/);
  t.match(outcome.output_tail, 'started');
  t.same(listGroupMembers(identity()?.pgid ?? 0), [], 'nothing of the group is left');
});

t.test('a timeout on the real clock stops a command that never ends', async t => {
  const { options } = setup(t, 'agent-sleep.mjs', [], { timeoutMs: 300 });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'timed_out');
  t.ok(outcome.duration_ms >= 300);
});

t.test('a command that keeps printing is not stalled', async t => {
  const { options } = setup(t, 'agent-ticks.mjs', ['5', '50'], { stallTimeoutMs: 5000 });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  t.match(readFileSync(options.stdoutPath, 'utf8'), 'tick 5');
});

t.test('aborting the signal cancels the command and stops its group', async t => {
  const controller = new AbortController();
  const streams: string[] = [];
  const { options, identity } = setup(t, 'agent-sleep.mjs', [], {
    signal: controller.signal,
    onOutput: (stream, chunk) => {
      streams.push(stream);
      if (chunk.toString().includes('started')) controller.abort();
    },
  });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'cancelled');
  t.equal(outcome.signal, 'SIGTERM');
  t.same(streams, ['stdout']);
  t.notOk(alive(identity()?.pid ?? 0));
});

t.test('a signal aborted before the start runs nothing', async t => {
  const controller = new AbortController();
  controller.abort();
  let spawned = false;
  const { options } = setup(t, 'agent-exit.mjs', ['0'], {
    signal: controller.signal,
    onSpawn: async () => {
      spawned = true;
    },
  });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'cancelled');
  t.equal(outcome.exit_code, null);
  t.notOk(spawned);
});

t.test('a leader that ignores SIGTERM is killed with SIGKILL after the grace period', async t => {
  const controller = new AbortController();
  const { options } = setup(t, 'agent-sleep.mjs', ['--ignore-term'], {
    signal: controller.signal,
    onOutput: () => controller.abort(),
  });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'cancelled');
  t.equal(outcome.signal, 'SIGKILL');
});

t.test('onSpawn gets the identity /proc shows, of the command itself, which runs while onSpawn is pending', async t => {
  const events: string[] = [];
  let release: () => void = () => undefined;
  const released = new Promise<void>(resolve => (release = resolve));
  let identity: ProcessIdentity | undefined;
  const { options } = setup(t, 'agent-sleep.mjs', ['first act'], {
    onSpawn: async id => {
      identity = id;
      const stat = readProcessStat(id.pid);
      t.ok(stat, 'the process is in /proc when onSpawn is called');
      t.equal(id.pgid, id.pid, 'it leads its own process group');
      t.equal(stat?.pgid, id.pgid, 'the group /proc shows');
      t.equal(stat?.start_time, id.start_time, 'the start time /proc shows');
      t.equal(id.boot_id, bootId());
      events.push('onSpawn started');
      await released;
      events.push('onSpawn done');
    },
  });
  reap(t, () => identity?.pgid);
  const controller = new AbortController();
  options.signal = controller.signal;
  const running = runCommand(options);
  // No gate (src/runner/session-marker.ts): the command does its first act before its identity is recorded.
  await waitFor('the command to print its first line while onSpawn is pending', () => readFileSync(options.stdoutPath, 'utf8') === 'first act\n');
  t.same(events, ['onSpawn started']);
  const pid = identity?.pid ?? 0;
  t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'agent-sleep.mjs', 'the recorded process is the command, not a shell in front of it');
  release();
  await waitFor('onSpawn to be done', () => events.length === 2);
  controller.abort();
  const outcome = await running;
  t.equal(outcome.reason, 'cancelled');
  t.same(listGroupMembers(pid), [], 'nothing of the group is left');
});

t.test('an attempt cancelled while onSpawn is pending is stopped without waiting for it', async t => {
  const dir = t.testdir({});
  let identity: ProcessIdentity | undefined;
  reap(t, () => identity?.pgid);
  const controller = new AbortController();
  let release: () => void = () => undefined;
  const running = runCommand({
    argv: ['sleep', '30'],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdoutPath: join(dir, 'stdout.log'),
    stderrPath: join(dir, 'stderr.log'),
    outputCapBytes: 1024,
    killGraceMs: 300,
    signal: controller.signal,
    onSpawn: async id => {
      identity = id;
      controller.abort(); // the attempt is cancelled while its record write is still under way
      await new Promise<void>(resolve => (release = resolve));
    },
  });
  const outcome = await running;
  release();
  t.equal(outcome.reason, 'cancelled');
  t.same(listGroupMembers(identity?.pgid ?? 0), [], 'nothing of the group is left');
});

t.test('when onSpawn fails the command is stopped at once, and the outcome carries the error', async t => {
  let identity: ProcessIdentity | undefined;
  const failure = new Error('cannot write the record');
  const { options } = setup(t, 'agent-exit.mjs', [], {
    onSpawn: async id => {
      identity = id;
      throw failure;
    },
  });
  reap(t, () => identity?.pgid);
  options.argv = ['sleep', '30'];
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.exit_code, null);
  t.equal(outcome.signal, null);
  t.equal(outcome.spawn_error, undefined, 'not a spawn failure: nothing says the command is broken');
  t.match(outcome.error, /stopped: onSpawn failed \(cannot write the record\)/);
  t.equal(outcome.onSpawnError, failure);
  t.same(listGroupMembers(identity?.pgid ?? 0), [], 'nothing of its group is left running');
});

t.test('output past the cap is dropped from the file, and the child is never blocked', async t => {
  const cap = 64 * 1024;
  const { options } = setup(t, 'agent-flood.mjs', [String(5 * 1024 * 1024)], { outputCapBytes: cap });
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded', 'the child wrote all 5 MB and exited');
  t.equal(statSync(options.stdoutPath).size, cap, 'the file stops at the cap');
  t.same(outcome.truncated, { stdout: true, stderr: false });
  t.match(outcome.output_tail, 'flood done', 'the tail has the last output');
  t.ok(Buffer.byteLength(outcome.output_tail) <= 64 * 1024 + 16, 'the tail is bounded');
});

t.test('a full disk stops the output file, not the command', async t => {
  // Registered before t.testdir(), so it runs before the testdir is removed (a mount point cannot be).
  let mounted: string | undefined;
  t.teardown(() => {
    if (mounted !== undefined) spawnSync('umount', [mounted]);
  });
  const { dir, options } = setup(t, 'agent-flood.mjs', [String(1024 * 1024)], { outputCapBytes: 10 * 1024 * 1024 });
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { encoding: 'utf8' });
  if (mount.status !== 0) {
    t.comment(`skipped: cannot mount a tmpfs here: ${mount.stderr.trim()}`);
    t.pass('no tmpfs: nothing to check');
    return;
  }
  mounted = disk;
  options.stdoutPath = join(disk, 'stdout.log');
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded', 'the command ran to its end');
  t.equal(outcome.truncated.stdout, true);
  t.match(outcome.output_error, /ENOSPC/);
  t.match(outcome.output_tail, 'flood done');
});

/** Runs `agent.sh`, written with `text` and file mode `mode`, in a fresh test dir. */
async function runScript(t: Test, text: string, mode: number) {
  const { dir, options } = setup(t, 'agent-exit.mjs');
  const script = join(dir, 'agent.sh');
  writeFileSync(script, text);
  chmodSync(script, mode);
  return runCommand({ ...options, argv: [script] });
}

t.test('a script whose #! interpreter is missing: the error names the interpreter, not "no such file"', async t => {
  const outcome = await runScript(t, '#!/no/such/interpreter -x\necho hi\n', 0o755);
  t.equal(outcome.spawn_error, 'ENOENT');
  t.match(outcome.error, /agent\.sh": its interpreter "\/no\/such\/interpreter" \(its #! line\) was not found/);
});

t.test('a missing binary is a failed, non-retryable outcome, not a throw', async t => {
  const { dir, options } = setup(t, 'agent-exit.mjs');
  options.argv = [join(dir, 'no-such-agent'), '--flag'];
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.exit_code, null);
  t.equal(outcome.spawn_error, 'ENOENT');
  t.match(outcome.error, /no-such-agent.*no such file/);
  t.equal(classifyFailure(outcome, {}, Date.now()).retryable, false);

  options.argv = ['orch-no-such-binary-on-path'];
  const bare = await runCommand(options);
  t.equal(bare.spawn_error, 'ENOENT');
  t.match(bare.error, /"orch-no-such-binary-on-path": not found on PATH/);
});

t.test('a command that ran and exited 127 saying "not found" is a failure of the command, not a spawn failure', async t => {
  const { options } = setup(t, 'agent-exit.mjs');
  options.argv = ['/bin/sh', '-c', 'orch-no-such-tool --x'];
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.exit_code, 127);
  t.equal(outcome.spawn_error, undefined);
  t.match(outcome.output_tail, /orch-no-such-tool: not found/);
});

t.test('a missing launcher binary is a spawn failure naming the launcher', async t => {
  const { options } = setup(t, 'agent-exit.mjs', ['0']);
  options.launcher = ['orch-no-such-launcher', 'host1'];
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.exit_code, null);
  t.equal(outcome.spawn_error, 'ENOENT');
  t.match(outcome.error, /"orch-no-such-launcher": not found on PATH/);
});

t.test('a directory given as the command is a spawn failure (EACCES)', async t => {
  const { dir, options } = setup(t, 'agent-exit.mjs');
  options.argv = [dir];
  const outcome = await runCommand(options);
  t.equal(outcome.spawn_error, 'EACCES');
  t.equal(outcome.exit_code, null);
});

t.test('a file that is not executable is a failed, non-retryable outcome', async t => {
  const outcome = await runScript(t, '#!/bin/sh\necho hi\n', 0o644);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.spawn_error, 'EACCES');
  t.match(outcome.error, /agent\.sh.*permission denied/);
  t.equal(classifyFailure(outcome, {}, Date.now()).retryable, false);
});

t.test('an argument list too long for the kernel is a failed outcome naming the binary', async t => {
  const { options } = setup(t, 'agent-exit.mjs', ['0', 'x'.repeat(4 * 1024 * 1024)]);
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.spawn_error, 'E2BIG');
  t.match(outcome.error, /argument list too long/);
  t.ok((outcome.error ?? '').length < 1000, 'the huge argument is not echoed back');
  t.equal(classifyFailure(outcome, {}, Date.now()).retryable, false);
});

t.test('a spawn refused for too many open files (EMFILE) is a failed outcome, and the process lives on', async t => {
  const dir = t.testdir({});
  // Runs in a child whose descriptors are used up but for the two output files and one more.
  const script = `
    import { closeSync, openSync } from 'node:fs';
    import { runCommand } from ${JSON.stringify(new URL('../../src/runner/run-command.ts', import.meta.url).href)};
    const dir = process.argv[1];
    const fds = [];
    try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
    for (const fd of fds.splice(-3)) closeSync(fd);
    const outcome = await runCommand({ argv: ['/bin/echo', 'hi'], cwd: dir, env: {}, stdoutPath: dir + '/out', stderrPath: dir + '/err', outputCapBytes: 1024 });
    for (const fd of fds) closeSync(fd);
    await new Promise(resolve => setImmediate(resolve));
    console.log(JSON.stringify(outcome));
  `;
  const child = spawnSync('sh', ['-c', 'ulimit -n 200 && exec "$0" "$@"', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, dir], { encoding: 'utf8', timeout: 60_000 });
  t.equal(child.status, 0, `the process was not ended by an unheard 'error' event: ${child.stderr.slice(-1500)}`);
  const outcome = JSON.parse(child.stdout || '{}') as { reason?: string; spawn_error?: string; error?: string };
  t.equal(outcome.reason, 'failed');
  t.equal(outcome.spawn_error, 'EMFILE');
  t.match(outcome.error, /cannot run "\/bin\/echo": EMFILE/);
});

t.test('a missing working directory is a failed outcome', async t => {
  const { dir, options } = setup(t, 'agent-exit.mjs', ['0']);
  options.cwd = join(dir, 'gone');
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  t.match(outcome.error, /working directory .*gone does not exist/);
});

t.test('a launcher prefix is prepended, and only the given environment is passed', async t => {
  const { dir, options } = setup(t, 'agent-env.mjs');
  options.launcher = [process.execPath];
  options.argv = [agent('agent-env.mjs'), 'a b', '$(echo no)'];
  options.env = { PATH: process.env.PATH ?? '', ORCH_TASK_ID: 'T-1' };
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  const seen = JSON.parse(readFileSync(options.stdoutPath, 'utf8')) as { argv: string[]; env: Record<string, string>; cwd: string };
  t.same(seen.argv, ['a b', '$(echo no)'], 'arguments arrive verbatim, never shell-interpolated');
  t.same(seen.env, { ORCH_TASK_ID: 'T-1' });
  t.equal(seen.cwd, dir);
});

t.test('the command gets no descriptor beyond its three, and stdin is /dev/null', async t => {
  const { options } = setup(t, 'agent-exit.mjs');
  options.argv = ['/bin/sh', '-c', 'if [ -e /proc/$$/fd/3 ]; then echo fd3 open; else echo fd3 closed; fi; readlink /proc/$$/fd/0'];
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'succeeded');
  t.equal(readFileSync(options.stdoutPath, 'utf8'), 'fd3 closed\n/dev/null\n');
});

t.test('shell: true runs the command line through a shell', async t => {
  const { options } = setup(t, 'agent-exit.mjs', [], { shell: true });
  options.argv = ['echo $((1 + 2)) && exit 4'];
  const outcome = await runCommand(options);
  t.equal(outcome.exit_code, 4);
  t.equal(readFileSync(options.stdoutPath, 'utf8'), '3\n');
});

t.test('shell: true with a launcher runs launcher and command line through one shell', async t => {
  const { options } = setup(t, 'agent-exit.mjs', [], { shell: true, launcher: ['env', 'ORCH_X=1'] });
  options.argv = ['sh -c \'echo "x=$ORCH_X $((2 * 3))"\''];
  let spawned = false;
  options.onSpawn = async () => {
    spawned = true;
  };
  const outcome = await runCommand(options);
  t.ok(spawned);
  t.equal(outcome.reason, 'succeeded');
  t.equal(readFileSync(options.stdoutPath, 'utf8'), 'x=1 6\n');
});

t.test('a rate-limited run is classified with the reset time it printed', async t => {
  const { options } = setup(t, 'agent-rate-limit.mjs');
  const outcome = await runCommand(options);
  t.equal(outcome.reason, 'failed');
  const now = Date.now();
  const verdict = classifyFailure(outcome, {}, now);
  t.equal(verdict.retryable, true);
  t.equal(verdict.rate_limited_until, now + 37 * 60_000);
});
