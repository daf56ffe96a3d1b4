// The sshd fixture against the real programs (Debian's openssh-server and openssh-client): commands
// run over ssh through a multiplexed master, two hosts at once, a host whose sshd is killed, a remote
// process group found and killed through ssh, and nothing left running afterwards.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProcessStat } from '../../src/store/process-identity.js';
import { FIXTURE_MARK, startSshd, writeClientConfig, type SshdHandle, type SshResult } from '../fixtures/sshd.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

/** Every handle and process the tests saw, for the last test: none may be alive. */
const started: SshdHandle[] = [];
/** pid → start time: a pid the system gave to another process since is not ours. */
const seen = new Map<number, number>();

function see(pid: number | undefined): void {
  const start = pid === undefined ? undefined : readProcessStat(pid)?.start_time;
  if (pid !== undefined && start !== undefined) seen.set(pid, start);
}

async function host(t: Test, alias?: string): Promise<SshdHandle> {
  const began = Date.now();
  const handle = await startSshd(t, alias === undefined ? {} : { alias });
  t.comment(`${handle.alias}: sshd on port ${handle.port} ready in ${Date.now() - began} ms (keys, config, sshd, first ssh)`);
  started.push(handle);
  see(handle.pid);
  return handle;
}

function ok(result: SshResult): string {
  if (result.code !== 0) throw new Error(`ssh failed (${result.code ?? result.signal}): ${result.stderr}`);
  return result.stdout;
}

/** The live members of process group `pgid`, as read through ssh from the remote /proc (no procps needed). */
async function remoteGroup(h: SshdHandle, pgid: number): Promise<number[]> {
  const stats = await h.run(['sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null; true']);
  return ok(stats)
    .split('\n')
    .filter(line => line.includes(')'))
    .map(line => [Number(line.slice(0, line.indexOf(' '))), ...line.slice(line.lastIndexOf(')') + 2).split(' ')] as const)
    .filter(([, state, , group]) => state !== 'Z' && Number(group) === pgid)
    .map(([pid]) => pid);
}

/** `ssh -F file alias …` with a config other than the handle's. */
function ssh(configFile: string, alias: string, command: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', ['-F', configFile, alias, command], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function timed<T>(work: () => Promise<T>): Promise<number> {
  const began = performance.now();
  await work();
  return performance.now() - began;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

t.test('a command runs over ssh: its output and exit code come back, its words as given', async t => {
  const h = await host(t);
  const result = await h.run(['sh', '-c', 'echo hi; echo oops >&2; exit 3']);
  t.same([result.code, result.stdout, result.stderr], [3, 'hi\n', 'oops\n']);
  // ssh hands the remote shell one string: run() quotes each word so spaces, quotes and '' survive.
  t.equal(ok(await h.run(['printf', '%s|', 'a b', "it's", '', '$HOME'])), "a b|it's||$HOME|");
  t.equal(ok(await h.run(['id', '-un'])).trim(), h.user, 'logged in as the current user');
});

t.test('commands go through the multiplexed master: one connection, however many commands', async t => {
  const h = await host(t);
  const master = await h.masterPid();
  t.ok(master !== undefined && isAlive(master), `ssh -O check: a master runs (pid ${master})`);
  see(master);
  t.ok(existsSync(h.controlPath), 'its socket is at the ControlPath');
  const [connection, ...more] = h.connections();
  t.same(more, [], 'sshd has one connection: the master');
  const viaMaster: number[] = [];
  for (let i = 0; i < 5; i++) viaMaster.push(await timed(async () => ok(await h.run(['true']))));
  t.same(h.connections(), [connection], 'five commands later, still that one connection');
  t.equal(await h.masterPid(), master, 'and the same master');
  const own: number[] = [];
  for (let i = 0; i < 5; i++) own.push(await timed(async () => ok(await h.run(['true'], { multiplex: false }))));
  // Figures only: a loaded machine may make either side slow, so they are not asserted. Both include
  // the remote login shell's start: Debian's bash reads ~/.bashrc for a command run by sshd.
  t.comment(`ssh true, median of 5: ${median(viaMaster).toFixed(0)} ms through the master, ${median(own).toFixed(0)} ms with a connection of its own`);
});

t.test('two hosts at once, and one whose sshd is killed', async t => {
  const [h1, h2] = await Promise.all([host(t, 'host1'), host(t, 'host2')]);
  t.not(h1.port, h2.port);
  // Each command's parent is the connection process of the sshd it reached.
  const [p1, p2] = await Promise.all([h1.run(['sh', '-c', 'echo $PPID']), h2.run(['sh', '-c', 'echo $PPID'])]);
  t.same(h1.connections(), [Number(ok(p1))], 'host1 ran on host1');
  t.same(h2.connections(), [Number(ok(p2))], 'host2 ran on host2');
  for (const pid of [...h1.connections(), ...h2.connections()]) see(pid);
  const both = writeClientConfig(join(h1.dir, 'both'), [h1, h2]);
  t.same(await Promise.all([ssh(both, 'host1', 'true'), ssh(both, 'host2', 'true')]), [0, 0], 'one config names both hosts');

  // A session in flight when the listening sshd is killed: it waits for a file (same machine), so the
  // kill happens while it runs, whatever the machine's speed.
  const dir = h1.dir;
  const inFlight = h1.run(['sh', '-c', `touch ${dir}/began; until [ -e ${dir}/go ]; do sleep 0.02; done; echo survived`]);
  await waitFor('the in-flight session to begin', () => existsSync(join(dir, 'began')));
  const master = await h1.masterPid();
  see(master);
  await h1.kill();
  t.notOk(isAlive(h1.pid), 'the listening sshd is gone');
  const refused = await h1.run(['true'], { multiplex: false });
  t.equal(refused.code, 255, 'a new connection fails');
  t.match(refused.stderr, /Connection refused/);
  writeFileSync(join(dir, 'go'), '');
  t.same([(await inFlight).code, (await inFlight).stdout], [0, 'survived\n'], 'the session in flight lived on');
  t.equal(ok(await h1.run(['echo', 'still'])), 'still\n', 'the master connection lives on: a multiplexed command still runs');
  t.equal(ok(await h2.run(['echo', 'two'])), 'two\n', 'host2 is untouched');

  // The host's network going away too: established connections die with their sshd processes.
  const orphan = h1.run(['sh', '-c', `echo $$ > ${dir}/orphan; until [ -e ${dir}/go2 ]; do sleep 0.02; done; touch ${dir}/went-on`]);
  const pid = await waitFor('the remote shell to write its pid', () => existsSync(join(dir, 'orphan')) && Number(readFileSync(join(dir, 'orphan'), 'utf8')));
  see(pid);
  await h1.kill({ connections: true });
  const cut = await orphan;
  t.equal(cut.code, 255, 'the client of the cut session fails (255: ssh itself, not the command)');
  await waitFor('the master to exit with its connection', () => master !== undefined && !isAlive(master));
  const after = await h1.run(['true']);
  t.equal(after.code, 255, 'a multiplexed command fails too: there is no master, and no sshd to make one');
  // The remote command had no tty to hang up: it runs on, as the file it writes when told shows.
  writeFileSync(join(dir, 'go2'), '');
  await waitFor('the remote command cut from its client to go on', () => existsSync(join(dir, 'went-on')));
  t.equal(ok(await h2.run(['echo', 'two'])), 'two\n', 'host2 still works');
  await h1.stop();
  t.same(h1.survivors(), [], 'stop() leaves nothing of host1: the cut command is gone too');
  t.notOk(isAlive(pid));
});

t.test('a remote process group started with setsid is found and killed through ssh', async t => {
  const h = await host(t);
  // Its stdio is redirected: else the session would wait for it to close its end of ssh's pipes.
  const started = await h.run(['sh', '-c', 'setsid sh -c "sleep 300; true" </dev/null >/dev/null 2>&1 & echo $!']);
  const pgid = Number(ok(started));
  t.ok(pgid > 0, `the group's leader: ${pgid}`);
  // setsid made it a session and group of its own (it was not a group leader: no fork, $! is it).
  const members = await waitFor('the group to hold the shell and its sleep', async () => {
    const found = await remoteGroup(h, pgid);
    return found.length === 2 && found;
  });
  for (const member of members) see(member);
  t.ok(members.includes(pgid), 'the leader is a member');
  t.notOk(h.connections().some(connection => members.includes(connection)));
  ok(await h.run(['kill', '--', `-${pgid}`]));
  await waitFor(`group ${pgid} to be empty`, async () => (await remoteGroup(h, pgid)).length === 0);
  t.ok(members.every(member => !isAlive(member)), 'every member is gone (local /proc agrees)');
});

t.test('teardown stops what a test left running', async t => {
  let left: SshdHandle | undefined;
  let leader = 0;
  await t.test('a test that starts a remote daemon and a master, and stops nothing', async t => {
    left = await host(t);
    leader = Number(ok(await left.run(['sh', '-c', 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!'])));
    see(leader);
    see(await left.masterPid());
    t.ok(isAlive(leader));
  });
  t.same(left?.survivors(), [], 'nothing of it runs after its teardown');
  t.notOk(isAlive(leader), 'the daemon that left sshd behind (setsid, parent pid 1) is gone');
});

t.test('nothing is left running', async t => {
  // After every test's teardown (this one starts none).
  t.ok(started.length >= 6, `${started.length} sshd started`);
  for (const h of started) t.same(h.survivors(), [], `nothing of ${h.alias} (port ${h.port})`);
  const alive = [...seen].filter(([pid, start]) => readProcessStat(pid)?.start_time === start && isAlive(pid));
  t.same(alive, [], `none of the ${seen.size} processes seen (sshd, connections, masters, remote commands)`);
  // And by a look at every process, as pgrep would: no session marked by one of these sshds, no fixture
  // sshd or master of theirs. (Other test files run sshds of their own meanwhile: their marks differ.)
  const ours = readdirSync('/proc')
    .filter(name => /^\d+$/.test(name) && isAlive(Number(name)))
    .filter(name => {
      const read = (file: string): string => {
        try {
          return readFileSync(`/proc/${name}/${file}`, 'latin1');
        } catch {
          return '';
        }
      };
      const environ = read('environ');
      return started.some(h => environ.includes(`${FIXTURE_MARK}=${h.token}\0`) || read('cmdline').includes(h.dir));
    });
  t.same(ours, [], 'no process in /proc is one of ours');
});
