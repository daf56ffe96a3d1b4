// A stalled orchestrator (PRODUCT.md §2, §7): it is stopped (SIGSTOP) past its session lease while
// its commands run; another orchestrator, on another host as far as it can tell (its own UTS
// namespace), takes the state dir over; then the first wakes up. Every write it attempts late must be
// refused by the fencing epoch, it must stop by itself, and the work must end once, as it would have.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SessionRecord } from '../../src/generated/types.js';
import { waitFor } from '../fixtures/wait-for.js';
import { reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { makeTortureProject, MARKER_ENV, orchBin, outcomeProblems, readRecords } from './project.js';
import { planTasks } from './workload.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/torture-orch.mjs', import.meta.url));
const LEASE_MS = 1500;

/** Resolves with `value` after `ms`, without keeping the process alive. */
function after<T>(ms: number, value: T): Promise<T> {
  return new Promise(resolve => setTimeout(() => resolve(value), ms).unref());
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

t.test('an orchestrator stopped past its lease and taken over elsewhere: when it wakes, every late write is refused, it stops, and each task ends once', async t => {
  const unshare = spawn('unshare', ['-u', 'true']);
  if ((await exitOf(unshare)).code !== 0) {
    t.comment('skipped: unshare -u (a UTS namespace, to look like another host) is not allowed here');
    return;
  }
  const tasks = planTasks(8, 6, ['quick']).map(task => ({ ...task, spec: { ...task.spec, env: { ...task.spec.env, TORTURE_SLEEP: '0.8' } } }));
  const project = makeTortureProject(t.testdir(), tasks, { workers: 2 });
  const outside = snapshotOutside(project.root, [project.outside]);
  const env = { ...process.env, NO_COLOR: '1', ORCH_ROOT: '', [MARKER_ENV]: project.marker };
  const orchestratorModule = pathToFileURL(join(orchBin(), '..', '..', 'runtime', 'orchestrator.js')).href;
  const sessionPath = join(project.root, '.isollm', 'state', 'session.json');
  const session = (): SessionRecord => JSON.parse(readFileSync(sessionPath, 'utf8')) as SessionRecord;

  let aOutput = '';
  const a = spawn(process.execPath, [FIXTURE, orchestratorModule, project.root, String(LEASE_MS)], { cwd: project.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  a.stdout.on('data', (chunk: Buffer) => (aOutput += chunk.toString()));
  a.stderr.on('data', (chunk: Buffer) => (aOutput += chunk.toString()));
  t.teardown(() => {
    a.kill('SIGCONT');
    a.kill('SIGKILL');
  });
  await waitFor('the first orchestrator to run a command', () => [...readRecords(project.root).values()].some(r => r.attempts.some(x => x.process !== undefined && x.ended_at === undefined)), 30_000);
  a.kill('SIGSTOP');
  const takenAt = new Map([...readRecords(project.root).values()].map(r => [r.id, r.rev]));
  const firstEpoch = session().epoch;
  await waitFor('the stopped orchestrator\'s lease to expire', () => Date.parse(session().lease_expires_at) < Date.now() - 100, 10_000);

  // The second one sees another host in session.json: it may take over once the lease is past.
  let bOutput = '';
  const b = spawn('unshare', ['-u', 'sh', '-c', 'hostname torture-b && exec "$0" "$@"', process.execPath, orchBin(), '--resume', '--once'], { cwd: project.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  b.stdout.on('data', (chunk: Buffer) => (bOutput += chunk.toString()));
  b.stderr.on('data', (chunk: Buffer) => (bOutput += chunk.toString()));
  t.teardown(() => {
    b.kill('SIGKILL');
  });
  await waitFor('the second orchestrator to take the session over', () => session().epoch > firstEpoch, 30_000);
  const takenOver = new Map([...readRecords(project.root).values()].map(r => [r.id, r.rev]));
  for (const [id, rev] of takenOver) takenAt.set(id, Math.max(rev, takenAt.get(id) ?? 0));

  a.kill('SIGCONT');
  const aExit = await Promise.race([exitOf(a), after(30_000, 'hung' as const)]);
  t.not(aExit, 'hung', 'the woken orchestrator stops by itself', { output: aOutput.slice(-3000) });
  const bExit = await Promise.race([exitOf(b), after(60_000, 'hung' as const)]);
  t.same(bExit, { code: 0, signal: null }, 'the second orchestrator ends every task', { output: bOutput.slice(-3000) });

  const late = [...readRecords(project.root).values()].filter(r => r.epoch === firstEpoch && r.rev > (takenAt.get(r.id) ?? 0));
  t.same(late.map(r => `${r.id} rev ${r.rev}`), [], 'no record was written by the stalled orchestrator after the takeover');
  t.match(aOutput + readFileSync(join(project.root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8'), /epoch|taken over|no longer names this session/, 'its late writes were refused by the fence');
  t.equal(session().owner.host, 'torture-b', 'session.json still names the second orchestrator');
  t.equal(session().status, 'stopped', 'which released it');
  t.same(outcomeProblems(project.root, tasks), [], 'every task ended as it would have');
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing (the run log included: the woken one did not close a section inside the new run\'s)');
  reportKnown(t, known, 'stalled orchestrator');
});
