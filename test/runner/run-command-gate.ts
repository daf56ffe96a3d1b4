import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessIdentity } from '../../src/generated/types.js';
import { listGroupMembers } from '../../src/runner/process-group.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

const fixture = fileURLToPath(new URL('../fixtures/gate-parent.mjs', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

t.test('an orchestrator killed -9 before onSpawn resolves leaves no command behind: it never ran', async t => {
  const dir = t.testdir({});
  const marker = join(dir, 'marker');
  const identityFile = join(dir, 'identity.json');
  const parent = spawn(process.execPath, ['--import', 'tsx', fixture, dir, marker, identityFile], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>(resolve => parent.once('exit', (_code, signal) => resolve(signal)));
  let identity: ProcessIdentity | undefined;
  t.teardown(() => {
    parent.kill('SIGKILL');
    for (const member of identity === undefined ? [] : listGroupMembers(identity.pgid)) process.kill(member.pid, 'SIGKILL');
  });
  identity = await waitFor('the fixture to write the identity from onSpawn', () =>
    existsSync(identityFile) ? (JSON.parse(readFileSync(identityFile, 'utf8')) as ProcessIdentity) : undefined,
  );
  const pgid = identity.pgid;
  t.ok(isAlive(identity.pid), 'the spawned process waits at the gate');
  t.notOk(existsSync(marker), 'the command has not started');
  parent.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  await waitFor('the gate to see EOF on fd 3 and exit', () => listGroupMembers(pgid).length === 0, 10_000);
  t.notOk(existsSync(marker), 'the command never ran its first act');
  t.notOk(isAlive(identity.pid), 'no process of it remains');
});
