import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attempt, ProcessIdentity, TaskRecord } from '../../src/generated/types.js';
import { listGroupMembers } from '../../src/runner/process-group.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { identityOf, livenessOf } from '../../src/store/process-identity.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';
import { asWrittenByOrch } from '../fixtures/sealed.js';

const AGENT_SLEEP = fileURLToPath(new URL('../fixtures/agent-sleep.mjs', import.meta.url));
const DEAD_PID = 999_999_999;

async function parkedProject(dir: string): Promise<string> {
  const root = makeProject(dir, {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { base_delay_s: 0.01, max_delay_s: 0.02, jitter: 0 }, on_exhausted: 'human' },
    tasks: { W1: { goal: 'fails', env: script({ implement: ['fail'] }) }, W2: { goal: 'fails too', env: script({ implement: ['fail'] }) } },
  });
  await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  return root;
}

function plantTempAndLock(root: string): { temp: string; lock: string } {
  const tempDir = join(root, '.isollm/state/tasks/.orch-tmp');
  mkdirSync(tempDir, { recursive: true });
  const temp = join(tempDir, `W1.json.${DEAD_PID}-7.1.tmp`);
  writeFileSync(temp, '{"torn');
  const lock = join(root, '.isollm/state/tasks/W2.json.lock');
  mkdirSync(lock);
  const past = new Date(Date.now() - 120_000);
  utimesSync(lock, past, past);
  return { temp, lock };
}

async function startOrphan(t: Test): Promise<ProcessIdentity> {
  const child = spawn(process.execPath, [AGENT_SLEEP], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
  const pid = child.pid ?? 0;
  t.teardown(() => {
    for (const member of listGroupMembers(pid)) {
      try {
        process.kill(member.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const identity = identityOf(pid);
  if (identity === undefined) throw new Error('the orphan is not in /proc');
  return { ...identity, pgid: pid };
}

t.test('orch doctor exits 0 on a healthy state dir', async t => {
  const root = await parkedProject(t.testdir());
  const out = await runCli(['doctor'], { cwd: root });
  t.equal(out.code, 0, out.stdout + out.stderr);
  t.match(out.stdout, /^healthy$/m);
  const json = await runCli(['doctor', '--json'], { cwd: root });
  t.same(JSON.parse(json.stdout), { problems: [], healthy: true });
});

t.test('orch doctor reports each problem with its path and what to do, and --fix leaves the dir healthy when all were safe to fix', async t => {
  const root = await parkedProject(t.testdir());
  const { temp, lock } = plantTempAndLock(root);
  const out = await runCli(['doctor'], { cwd: root });
  t.equal(out.code, 1, out.stdout);
  t.match(out.stdout, /error temp_file: \.isollm\/state\/tasks\/\.orch-tmp\/W1\.json\.999999999-7\.1\.tmp: leftover temp file of pid 999999999 \(dead\)/);
  t.match(out.stdout, /error stale_lock: \.isollm\/state\/tasks\/W2\.json\.lock: .*`orch doctor --fix` repairs it/);
  t.match(out.stdout, /2 problem\(s\) remain; 2 of them `orch doctor --fix` can repair/);
  t.ok(existsSync(temp) && existsSync(lock), 'without --fix nothing is touched');

  const fixed = await runCli(['doctor', '--fix', '--json'], { cwd: root });
  t.equal(fixed.code, 0, fixed.stdout);
  const report = JSON.parse(fixed.stdout);
  t.equal(report.healthy, true);
  t.same(report.problems.map((p: { kind: string; fixable: boolean; fixed: boolean }) => [p.kind, p.fixable, p.fixed]).sort(), [['stale_lock', true, true], ['temp_file', true, true]]);
  t.notOk(existsSync(temp));
  t.notOk(existsSync(lock));
  t.equal((await runCli(['doctor'], { cwd: root })).code, 0, 'healthy afterwards');
});

t.test('orch doctor finds a record without spec, an open attempt and its live process; --fix stops the process and exit stays 1', async t => {
  const root = await parkedProject(t.testdir());
  rmSync(join(root, '.isollm/tasks/W2.json'));
  const orphan = await startOrphan(t);
  const file = join(root, '.isollm/state/tasks/W1.json');
  const record = JSON.parse(readFileSync(file, 'utf8')) as TaskRecord;
  const attempt: Attempt = { n: record.attempts.length + 1, phase: 'implement', started_at: new Date().toISOString(), run_id: 'gone', artifacts_dir: 'runs/gone/W1', process: orphan };
  writeFileSync(file, JSON.stringify(asWrittenByOrch({ ...record, attempts: [...record.attempts, attempt] })));

  const out = await runCli(['doctor'], { cwd: root });
  t.equal(out.code, 1);
  t.match(out.stdout, /error record_without_spec: \.isollm\/state\/tasks\/W2\.json: task W2 is AWAITING_HUMAN but its spec .* is gone/);
  t.match(out.stdout, /error open_attempt: \.isollm\/state\/tasks\/W1\.json: attempt \d+ \(implement\) of task W1 never ended.*orch --resume/);
  t.match(out.stdout, new RegExp(`error orphan_process: \\.isollm/state/tasks/W1\\.json: process group ${orphan.pgid} \\(leader pid ${orphan.pid}\\) of attempt \\d+ \\(implement\\) of task W1 is still running`));
  t.equal(livenessOf(orphan), 'alive', 'doctor without --fix kills nothing');

  const fixed = await runCli(['doctor', '--fix'], { cwd: root });
  t.equal(fixed.code, 1, 'the record without spec and the open attempt remain');
  t.match(fixed.stdout, new RegExp(`fixed orphan_process: \\.isollm/state/tasks/W1\\.json: process group ${orphan.pgid} `));
  t.match(fixed.stdout, /2 problem\(s\) remain, 1 fixed/);
  t.equal(livenessOf(orphan), 'dead', 'the orphaned process is gone');
  t.same(listGroupMembers(orphan.pgid).filter(m => m.state !== 'Z'), []);
});
