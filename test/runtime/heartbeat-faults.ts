// Hardening 1: a state dir that stops taking writes (full, out of inodes, remounted read-only) while the
// orchestrator watches is a fault to ride out: it keeps running, says so once, carries on when the disk
// is writable again, and a stop while the disk still refuses ends the run without a throw. Real tmpfs
// mounts (root only: skipped with the reason elsewhere).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../../src/generated/types.js';
import { startOrchestrator } from '../../src/runtime/orchestrator.js';
import { makeProject } from '../fixtures/project.js';
import { waitFor } from '../fixtures/wait-for.js';

const LEASE_MS = 1500; // a heartbeat a second

/** The run is past its start (a fault before it is a failed start, another matter). */
function started(root: string): boolean {
  try {
    return readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8').includes('### Execution Log');
  } catch {
    return false;
  }
}

function mountTmpfs(t: Test, options: string): string | undefined {
  // The unmount is registered before t.testdir(): teardowns run in order, and a mount point cannot be removed.
  let disk: string | undefined;
  t.teardown(() => void (disk !== undefined && spawnSync('umount', ['-l', disk])));
  const path = join(t.testdir({}), 'disk');
  mkdirSync(path);
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { encoding: 'utf8' });
  if (result.status !== 0) {
    t.comment(`skipped: cannot mount a tmpfs here: ${result.stderr.trim()}`);
    return undefined;
  }
  disk = path;
  return disk;
}

/** A remount read-only is refused (busy) while a file is open for writing: tried until it takes. */
async function remountReadOnly(disk: string): Promise<void> {
  await waitFor(`${disk} to be remounted read-only`, () => spawnSync('mount', ['-o', 'remount,ro', disk]).status === 0, 10_000);
}

const FAULTS = [
  {
    name: 'the disk fills up (ENOSPC)',
    mount: 'size=1m',
    async inject(disk: string): Promise<() => void> {
      const filler = join(disk, 'filler');
      const fd = openSync(filler, 'w');
      try {
        for (const block = Buffer.alloc(4096, 0x61); ; ) writeSync(fd, block);
      } catch {
        // full
      } finally {
        closeSync(fd);
      }
      return () => rmSync(filler);
    },
  },
  {
    name: 'the inodes run out (ENOSPC)',
    mount: 'size=8m,nr_inodes=400',
    async inject(disk: string): Promise<() => void> {
      const dir = join(disk, 'inodes');
      mkdirSync(dir);
      try {
        for (let i = 0; ; i++) writeFileSync(join(dir, String(i)), '');
      } catch {
        // no inode left
      }
      return () => rmSync(dir, { recursive: true });
    },
  },
  {
    name: 'the disk is remounted read-only (EROFS)',
    mount: 'size=8m',
    async inject(disk: string): Promise<() => void> {
      await remountReadOnly(disk);
      return () => void spawnSync('mount', ['-o', 'remount,rw', disk]);
    },
  },
] as const;

for (const fault of FAULTS) {
  t.test(`${fault.name} under a watching orchestrator: it rides the fault out, says so once, and carries on`, async t => {
    const disk = mountTmpfs(t, fault.mount);
    if (disk === undefined) return;
    const root = makeProject(join(disk, 'project'));
    const entries: RunEvent[] = [];
    const orchestrator = await startOrchestrator(root, { leaseMs: LEASE_MS, stayAlive: true, onLogEntry: event => entries.push(event) });
    let settled: string | undefined;
    orchestrator.done.then(() => (settled = 'ended'), (error: unknown) => (settled = `failed: ${String(error)}`));
    const sessionFile = join(root, '.isollm', 'state', 'session.json');
    await waitFor('the run to have started (its run log section opened)', () => started(root));

    const heal = await fault.inject(disk);
    const said = await waitFor('the heartbeat fault to be reported', () => {
      if (settled !== undefined) throw new Error(`the run ${settled}`);
      return entries.find(e => /could not write .*session\.json \((ENOSPC|EROFS)\)/.test(e.message));
    }, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}; the run said: ${entries.slice(-6).map(e => e.message).join(' | ')}`);
    });
    t.match(said.message, /the run carries on/);
    // Several heartbeats fail while we look (the session's heartbeat_at stands still), and the run lives.
    const last = Date.parse(JSON.parse(readFileSync(sessionFile, 'utf8')).heartbeat_at);
    await waitFor('three heartbeat intervals without a heartbeat', () => Date.now() - last > 3 * (LEASE_MS / 3) + 500, 10_000);
    t.equal(settled, undefined, 'the orchestrator is still running');
    t.equal(entries.filter(e => /could not write .*session\.json/.test(e.message)).length, 1, 'said once');

    heal();
    await waitFor('the heartbeat to come back', () => entries.find(e => /is writable again/.test(e.message)), 10_000);
    orchestrator.stop('test over');
    const result = await orchestrator.done;
    t.equal(result.failed.length, 0);
    t.equal(JSON.parse(readFileSync(sessionFile, 'utf8')).status, 'stopped', 'the session was released');
    t.match(readFileSync(join(root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /### Run Summary/, 'the run log section was closed');
  });
}

t.test('a stop while the disk still refuses writes ends the run with its result, not a throw, and says what it could not write', async t => {
  const disk = mountTmpfs(t, 'size=8m');
  if (disk === undefined) return;
  const root = makeProject(join(disk, 'project'));
  const entries: RunEvent[] = [];
  const orchestrator = await startOrchestrator(root, { leaseMs: LEASE_MS, stayAlive: true, onLogEntry: event => entries.push(event) });
  await waitFor('the run to have started (its run log section opened)', () => started(root));
  await remountReadOnly(disk);
  await waitFor('the heartbeat fault to be reported', () => entries.find(e => /could not write .*session\.json/.test(e.message)), 10_000);
  orchestrator.stop('test over');
  const result = await orchestrator.done;
  t.equal(result.failed.length, 0, 'the run ended with its result');
  t.ok(entries.some(e => /could not close the run log's section/.test(e.message)), 'the unclosed section was reported');
  t.ok(entries.some(e => /could not mark .*session\.json stopped/.test(e.message)), 'the unreleased session was reported');
  spawnSync('mount', ['-o', 'remount,rw', disk]);
  // Left as the read-only disk found it, never "stopped", by a process that will be gone: the next start
  // judges it by its pid (test/store/session.ts). "starting" when the disk went read-only before the run's
  // first heartbeat wrote "running" (a loaded machine: the run log's section opens first).
  t.match(JSON.parse(readFileSync(join(root, '.isollm', 'state', 'session.json'), 'utf8')).status, /^(starting|running)$/);
});
