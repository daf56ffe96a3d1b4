// Faults of the disk under a running orchestrator (PRODUCT.md §1: "a full disk loses nothing"): the
// state dir is on a small tmpfs that fills up, or its machine-owned part is made read-only, while
// tasks run. Nothing may be corrupted while writes fail; the work must carry on when the disk is
// writable again, and `--resume` must end every task as it would have.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isTerminal } from '../../src/machine/states.js';
import { waitFor } from '../fixtures/wait-for.js';
import { reportKnown, splitKnown, type KnownBug } from './known-bugs.js';
import { checkInvariants, formatViolations, type Violation } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { killNow, makeTortureProject, outcomeProblems, readRecords, runOrch, startOrch, type TortureProject } from './project.js';
import { planTasks } from './workload.js';

// Its cases run one after another, each bounded by its own waits (up to about 3 minutes on a loaded
// machine: a loaded run saw 63 s for one); tap's 120 s for a whole file cut the second case short.
t.setTimeout(600_000);

function mount(args: string[]): { ok: boolean; error: string } {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  return { ok: result.status === 0, error: result.stderr.trim() };
}

function fill(disk: string): string {
  const filler = join(disk, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, block);
  } catch {
    // ENOSPC: full.
  } finally {
    closeSync(fd);
  }
  return filler;
}

interface Fault {
  name: string;
  /** Sets the project up (mounting what it needs); undefined where mounting is not allowed. */
  setup(t: Test, onUnmount: (path: string) => void): TortureProject | undefined;
  /** The orchestrator is run through this command (as another user), if any. */
  runAs?: string[];
  /** What the run log must say once the fault has bitten (proof that it did). */
  felt?: RegExp;
  /** Starts the fault; returns what ends it. */
  inject(project: TortureProject): Promise<() => void>;
  /** Errors of failed attempts the fault causes in the commands themselves (not orch's doing). */
  excused?: RegExp;
  /** A bug this fault is known to trigger, with the invariant it shows as. */
  known?: { bug: KnownBug; invariant: Violation['invariant'] };
}

const tasks = planTasks(24, 4, ['quick', 'quick-flaky', 'quick']);

/** The uid and gid of nobody, and setpriv's arguments to become it. */
const NOBODY = 65534;
const AS_NOBODY = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

const FAULTS: Fault[] = [
  {
    name: 'the disk fills up',
    setup: (t, onUnmount) => {
      const dir = t.testdir();
      const disk = join(dir, 'disk');
      mkdirSync(disk);
      const mounted = mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
      if (!mounted.ok) {
        t.comment(`skipped: cannot mount a tmpfs here: ${mounted.error}`);
        return undefined;
      }
      onUnmount(disk);
      return makeTortureProject(disk, tasks);
    },
    inject: async project => {
      const filler = fill(join(project.root, '..'));
      return () => unlinkSync(filler);
    },
    // A stub agent that cannot write its result file on the full disk leaves it empty: that attempt
    // failed for real, and is retried like any failure.
    excused: /result file is invalid|No space left on device|ENOSPC/,
  },
  {
    name: 'the machine-owned state dir becomes read-only',
    setup: (t, onUnmount) => {
      const project = makeTortureProject(t.testdir(), tasks);
      const state = join(project.root, '.isollm', 'state');
      const bound = mount(['--bind', state, state]);
      if (!bound.ok) {
        t.comment(`skipped: cannot bind-mount here: ${bound.error}`);
        return undefined;
      }
      onUnmount(state);
      return project;
    },
    inject: async project => {
      const state = join(project.root, '.isollm', 'state');
      // A remount fails (busy) while a file in it is open for writing: a write lasts milliseconds.
      await waitFor('the state dir to be remounted read-only', () => mount(['-o', 'remount,bind,ro', state]).ok, 10_000);
      return () => {
        const rw = mount(['-o', 'remount,bind,rw', state]);
        if (!rw.ok) throw new Error(`remount,rw failed: ${rw.error}`);
      };
    },
  },
  {
    // PRODUCT.md's EACCES. As root a chmod refuses nothing (CAP_DAC_OVERRIDE): the orchestrator is
    // then run as nobody (setpriv), in a project handed to nobody, and the folders are made read-only
    // by mode. Without root the test runs as the user it is.
    name: 'the machine-owned folders lose their write permission (EACCES)',
    setup: t => {
      const project = makeTortureProject(t.testdir(), tasks);
      if (process.getuid?.() !== 0) return project;
      const chown = spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, project.root], { encoding: 'utf8' });
      const setpriv = spawnSync('setpriv', [...AS_NOBODY, 'true'], { encoding: 'utf8' });
      if (chown.status !== 0 || setpriv.status !== 0) {
        t.comment(`skipped: cannot run as another user here: ${chown.stderr.trim() || setpriv.stderr?.trim() || setpriv.error?.message}`);
        return undefined;
      }
      return project;
    },
    runAs: process.getuid?.() === 0 ? ['setpriv', ...AS_NOBODY] : [],
    inject: async project => {
      const dirs = ['state/tasks', 'state/workers', 'state', 'runs'].map(dir => join(project.root, '.isollm', dir));
      for (const dir of dirs) chmodSync(dir, 0o555);
      return () => {
        for (const dir of dirs) chmodSync(dir, 0o755);
      };
    },
    felt: /EACCES: permission denied/,
    // A stub agent that cannot write its output or result in runs/ fails that attempt for real.
    excused: /result file|permission denied|EACCES/i,
  },
];

/** The oracle while the orchestrator runs: open attempts and its live session are fine, broken files are not. */
async function soundWhileRunning(root: string): Promise<Violation[]> {
  const violations = await checkInvariants(root, { phase: 'crashed', logSlack: 1000 });
  // Appends that failed leave the markdown and events.jsonl out of step: counted, not a break. And
  // the records are read before the logs while the orchestrator writes both: an event may name a rev
  // its record reached after the records were read (ahead is a race of this check, behind is not).
  const ahead = (v: Violation): boolean => {
    const m = /names rev (\d+) of task .*, whose record is at rev (\d+)/.exec(v.message);
    return v.invariant === 'log_rev' && m !== null && Number(m[1]) > Number(m[2]);
  };
  return violations.filter(v => v.invariant !== 'doctor' && v.invariant !== 'log_mismatch' && !ahead(v));
}

for (const fault of FAULTS) {
  t.test(`${fault.name} while tasks run: nothing is corrupted, the orchestrator carries on when it is writable again, and every task ends as it would have`, async t => {
    // Registered before t.testdir(): teardowns run in order, and a mount point cannot be removed.
    const mounts: string[] = [];
    t.teardown(() => {
      for (const path of mounts.reverse()) spawnSync('umount', ['-l', path]);
    });
    const project = fault.setup(t, path => mounts.push(path));
    if (project === undefined) return;
    const split = (violations: Violation[]): { unknown: Violation[]; known: Map<KnownBug, Violation[]> } => {
      const result = splitKnown(violations, project.root);
      if (fault.known === undefined) return result;
      const { bug, invariant } = fault.known;
      const mine = result.unknown.filter(v => v.invariant === invariant);
      if (mine.length > 0) result.known.set(bug, mine);
      return { unknown: result.unknown.filter(v => v.invariant !== invariant), known: result.known };
    };
    const outside = snapshotOutside(project.root, [project.outside]);
    const run = startOrch(project, [], {}, fault.runAs);
    t.teardown(() => killNow(run));
    const done = (): number => [...readRecords(project.root).values()].filter(r => r.state === 'DONE').length;
    await waitFor('a few tasks to be DONE', () => done() >= 3, 30_000);

    const heal = await fault.inject(project);
    const during: Violation[] = [];
    // The fault lasts two seconds, the state dir checked all along: a failing write must never leave
    // a broken file behind.
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      during.push(...(await soundWhileRunning(project.root)));
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    heal();
    const whileFaulty = split(during);
    t.same(formatViolations(whileFaulty.unknown), '', 'no broken file while the disk refused writes');
    reportKnown(t, whileFaulty.known, `${fault.name}, during the fault`);

    if (fault.felt !== undefined) {
      const felt = fault.felt;
      await waitFor('the orchestrator to report the fault', () => felt.test(readFileSync(join(project.root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8')), 30_000);
    }
    const survived = run.child.exitCode === null && run.child.signalCode === null;
    t.ok(survived, 'the orchestrator is still running after the fault', { output: run.output().slice(-3000) });
    if (survived) {
      // A bound for a wedge, not a speed target: what is left after the fault (up to 20 tasks, retries,
      // launch backoffs up to 5 s) was not done within 10 s in a run beside two busy loops.
      const finished = await waitFor('every task to end', () => tasks.every(task => {
        const record = readRecords(project.root).get(task.id);
        return record !== undefined && isTerminal(record.state);
      }), 60_000).then(() => true, () => false);
      const unfinished = [...readRecords(project.root).values()].filter(r => !isTerminal(r.state)).map(r => `${r.id} ${r.state} attempts ${r.attempts.map(a => `${a.n}:${a.reason ?? 'open'}`).join(',')} next ${r.next_attempt_at ?? '-'}`);
      t.ok(finished, 'every task ends without a restart', { unfinished, output: run.output().slice(-3000) });
      run.child.kill('SIGTERM');
    }
    await run.exited;

    // Whatever the run did, a resume on a writable disk ends every task as it would have.
    const resumed = await runOrch(project, ['--resume', '--once'], { timeoutMs: 60_000, ...(fault.runAs !== undefined && { prefix: fault.runAs }) });
    t.equal(resumed.code, 0, '--resume --once ends cleanly', { output: resumed.output.slice(-3000) });
    const after = split(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, logSlack: 1000 }));
    t.same(formatViolations(after.unknown), '', 'the oracle finds nothing after the resume');
    reportKnown(t, after.known, `${fault.name}, after the resume`);
    t.same(outcomeProblems(project.root, tasks, fault.excused === undefined ? {} : { excused: fault.excused }), [], 'every task ended as it would have');
  });
}
