import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessIdentity } from '../../src/generated/types.js';
import { identityOf } from '../../src/store/process-identity.js';
import { stopProcessGroup } from '../../src/runner/kill-group.js';
import { listGroupMembers } from '../../src/runner/process-group.js';

import { isAlive as alive, waitFor } from '../fixtures/wait-for.js';

const agent = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));



/** Starts a fixture as the leader of its own group (as the runner does) and reaps the group at teardown. */
function startGroup(t: Test, script: string, args: string[]): ProcessIdentity {
  const child = spawn(process.execPath, [agent(script), ...args], { detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  const known = identityOf(pid);
  if (known === undefined) throw new Error('the fixture is not in /proc');
  t.teardown(() => {
    for (const member of listGroupMembers(pid)) {
      try {
        process.kill(member.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  return { ...known, pgid: pid };
}

t.test('a live group whose leader is the recorded process is stopped, members and all', async t => {
  const dir = t.testdir({});
  const pidFile = join(dir, 'pids');
  const identity = startGroup(t, 'agent-grandchild.mjs', [pidFile, 'stay']);
  await waitFor('the grandchild to be ready', () => existsSync(pidFile));
  const [, grandchild = 0] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
  t.equal(await stopProcessGroup(identity, 300), 'stopped');
  t.notOk(alive(identity.pid), 'the leader is gone');
  t.notOk(alive(grandchild), 'the grandchild that ignores SIGTERM is gone');
  t.same(listGroupMembers(identity.pgid), []);
});

t.test('members left by a leader that is gone are stopped when they started after it', async t => {
  const dir = t.testdir({});
  const pidFile = join(dir, 'pids');
  const identity = startGroup(t, 'agent-grandchild.mjs', [pidFile, 'exit']);
  await waitFor('the leader to exit, leaving its grandchild', () => existsSync(pidFile) && !alive(identity.pid));
  const [, grandchild = 0] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
  t.ok(alive(grandchild), 'the grandchild outlived its parent');
  t.equal(await stopProcessGroup(identity, 300), 'stopped');
  t.notOk(alive(grandchild));
});

t.test('a recorded identity whose start time does not match the live pid is not ours: nothing is touched', async t => {
  const identity = startGroup(t, 'agent-sleep.mjs', []);
  const stranger = { ...identity, start_time: identity.start_time - 1 };
  t.equal(await stopProcessGroup(stranger, 300), 'not_ours');
  t.ok(alive(identity.pid), 'the live process was left alone');
});

t.test('a process that is gone is already_gone', async t => {
  const identity = startGroup(t, 'agent-exit.mjs', ['0']);
  await waitFor('the fixture to exit', () => !alive(identity.pid));
  t.equal(await stopProcessGroup(identity, 300), 'already_gone');
});

t.test('a group from another boot is already_gone, and one on another host is not ours', async t => {
  const identity = startGroup(t, 'agent-sleep.mjs', []);
  t.equal(await stopProcessGroup({ ...identity, boot_id: 'another-boot' }, 300), 'already_gone');
  t.equal(await stopProcessGroup({ ...identity, host: 'another-host.invalid' }, 300), 'not_ours');
  t.ok(alive(identity.pid), 'neither touched the live process');
});
