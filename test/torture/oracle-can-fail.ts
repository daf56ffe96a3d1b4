// The oracle can fail: a good state dir passes, and each of its copies, broken in one way (a flipped
// byte, a dropped file, a duplicated log line, a broken rev chain, a planted symlink…), is caught by
// the invariant meant to catch it. An oracle that never fails proves nothing.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { readProcessStat } from '../../src/runner/process-group.js';
import { checkInvariants, formatViolations, type Invariant, type OraclePhase } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { approveWaiting, makeTortureProject, MARKER_ENV, recordFile, runOrch, type TortureProject } from './project.js';
import { planTasks } from './workload.js';

const kinds = ['quick', 'gated', 'fatal', 'ok'] as const;

/** One good state dir: a run, an approval through the inbox, a second run. */
async function goodProject(dir: string): Promise<TortureProject> {
  const tasks = planTasks(kinds.length, 5, kinds);
  const project = makeTortureProject(dir, tasks);
  await runOrch(project, ['--once']);
  await approveWaiting(project.root, tasks, new Set());
  await runOrch(project, ['--once']);
  return project;
}

const base = t.testdir();
const good = await goodProject(join(base, 'good'));
const [quick, gated, , full] = planTasks(kinds.length, 5, kinds).map(task => task.id) as [string, string, string, string];
const state = (root: string): string => join(root, '.isollm', 'state');
const events = (root: string): string => join(root, '.isollm', 'events.jsonl');
const runLog = (root: string): string => join(root, 'ORCHESTRATOR_RUN_LOG.md');

function editRecord(root: string, id: string, edit: (record: TaskRecord) => void): void {
  const record = JSON.parse(readFileSync(recordFile(root, id), 'utf8')) as TaskRecord;
  edit(record);
  writeFileSync(recordFile(root, id), `${JSON.stringify(record, null, 2)}\n`);
}

function flipByte(path: string, at: (text: string) => number): void {
  const bytes = readFileSync(path);
  const index = at(bytes.toString('latin1'));
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  writeFileSync(path, bytes);
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(line => line !== '');
}

interface Mutation {
  what: string;
  expect: Invariant;
  phase?: OraclePhase;
  mutate: (project: TortureProject) => void | Promise<void>;
  decisions?: Map<string, number>;
}

const mutations: Mutation[] = [
  { what: 'a flipped byte in a record state ("DONE" → "EONE")', expect: 'file_invalid', mutate: p => flipByte(recordFile(p.root, quick), text => text.indexOf('"state": "DONE"') + 10) },
  { what: 'a flipped first byte of a record', expect: 'file_invalid', mutate: p => flipByte(recordFile(p.root, full), () => 0) },
  { what: 'a flipped byte in session.json', expect: 'file_invalid', mutate: p => flipByte(join(state(p.root), 'session.json'), text => text.indexOf('"epoch"')) },
  { what: 'a flipped byte in an events.jsonl line', expect: 'log_invalid', mutate: p => flipByte(events(p.root), text => text.indexOf('\n{') + 2) },
  { what: 'a dropped record', expect: 'log_rev', mutate: p => unlinkSync(recordFile(p.root, full)) },
  { what: 'a dropped events.jsonl', expect: 'log_mismatch', mutate: p => unlinkSync(events(p.root)) },
  { what: 'a dropped run log', expect: 'log_mismatch', mutate: p => unlinkSync(runLog(p.root)) },
  {
    what: 'a duplicated events.jsonl line',
    expect: 'log_duplicate',
    mutate: p => {
      const all = lines(events(p.root));
      writeFileSync(events(p.root), `${[...all.slice(0, 3), all[2], ...all.slice(3)].join('\n')}\n`);
    },
  },
  {
    what: 'a duplicated markdown log entry',
    expect: 'log_mismatch',
    mutate: p => {
      const text = readFileSync(runLog(p.root), 'utf8');
      const entry = text.split('\n').find(line => line.startsWith('- `')) ?? '';
      writeFileSync(runLog(p.root), text.replace(entry, `${entry}\n${entry}`));
    },
  },
  { what: 'a record rev set back to 1', expect: 'rev_chain', mutate: p => editRecord(p.root, full, r => (r.rev = 1)) },
  { what: 'a record rev lower than a logged one', expect: 'log_rev', mutate: p => editRecord(p.root, full, r => (r.rev = r.attempts.length + 1)) },
  {
    what: 'two events of one task swapped',
    expect: 'log_order',
    mutate: p => {
      const all = lines(events(p.root));
      const ofTask = all.map((line, i) => ({ i, e: JSON.parse(line) as { task_id?: string; record_rev?: number } })).filter(x => x.e.task_id === full && x.e.record_rev !== undefined);
      const first = ofTask[0];
      const later = ofTask.find(x => (x.e.record_rev ?? 0) > (first?.e.record_rev ?? 0));
      if (first === undefined || later === undefined) throw new Error('no two events of the task with different revs');
      [all[first.i], all[later.i]] = [all[later.i] ?? '', all[first.i] ?? ''];
      writeFileSync(events(p.root), `${all.join('\n')}\n`);
    },
  },
  { what: 'a record stamped with an epoch past the session', expect: 'rev_chain', mutate: p => editRecord(p.root, quick, r => (r.epoch = 99)) },
  {
    what: 'a symlink planted in place of a record',
    expect: 'file_invalid',
    mutate: p => {
      cpSync(recordFile(p.root, quick), join(p.outside, 'copy.json'));
      unlinkSync(recordFile(p.root, quick));
      symlinkSync(join(p.outside, 'copy.json'), recordFile(p.root, quick));
    },
  },
  { what: 'a symlink planted under runs/', expect: 'special_file', mutate: p => symlinkSync('/etc/passwd', join(p.root, '.isollm', 'runs', 'passwd')) },
  {
    what: 'a FIFO planted under state/',
    expect: 'special_file',
    mutate: p => {
      const made = spawnSync('mkfifo', [join(state(p.root), 'workers', 'pipe')]);
      if (made.status !== 0) throw new Error(`mkfifo failed: ${String(made.stderr)}`);
    },
  },
  {
    what: 'a temp file of a dead writer',
    expect: 'temp_file',
    mutate: p => {
      mkdirSync(join(state(p.root), 'tasks', '.orch-tmp'), { recursive: true });
      writeFileSync(join(state(p.root), 'tasks', '.orch-tmp', `${quick}.json.999999-12345.1.tmp`), '{"half":');
    },
  },
  {
    what: 'an attempt left open after the run',
    expect: 'doctor',
    mutate: p =>
      editRecord(p.root, quick, r => {
        const last = r.attempts.at(-1);
        if (last !== undefined) {
          delete last.ended_at;
          delete last.reason;
        }
      }),
  },
  {
    what: 'two attempts open at once',
    expect: 'attempts',
    mutate: p =>
      editRecord(p.root, full, r => {
        for (const a of r.attempts.slice(-2)) {
          delete a.ended_at;
          delete a.reason;
        }
      }),
  },
  { what: 'attempts out of order', expect: 'attempts', mutate: p => editRecord(p.root, full, r => r.attempts.reverse()) },
  {
    what: 'a history hop made by the wrong actor',
    expect: 'history',
    mutate: p =>
      editRecord(p.root, quick, r => {
        const hop = r.history[0];
        if (hop !== undefined) hop.actor = 'human';
      }),
  },
  { what: 'a state the history does not end in', expect: 'history', mutate: p => editRecord(p.root, quick, r => (r.state = 'FAILED')) },
  { what: 'a file written outside the state dir', expect: 'outside_write', mutate: p => writeFileSync(join(p.outside, 'new.txt'), 'x') },
  { what: 'a file outside the state dir changed', expect: 'outside_write', mutate: p => writeFileSync(join(p.outside, 'secret.json'), '{"goal":"touched"}\n') },
  { what: 'a file written in the project root', expect: 'outside_write', mutate: p => writeFileSync(join(p.root, 'stray.log'), 'x') },
  {
    what: 'an applied decision logged twice',
    expect: 'decision_twice',
    mutate: p => {
      const all = lines(events(p.root));
      const applied = all.find(line => line.includes('"decision"') && line.includes('"record_rev"'));
      if (applied === undefined) throw new Error('no applied decision in events.jsonl');
      writeFileSync(events(p.root), `${[...all, applied.replace(/"at":"[^"]+"/, '"at":"2030-01-01T00:00:00.000Z"')].join('\n')}\n`);
    },
  },
  { what: 'more human moves than decisions given', expect: 'decision_twice', mutate: () => undefined, decisions: new Map([[gated, 0]]) },
  {
    what: 'a decision left in the inbox',
    expect: 'inbox_left',
    mutate: p => writeFileSync(join(p.root, '.isollm', 'inbox', 'left.json'), '{}'),
  },
  {
    what: 'the session left running',
    expect: 'session',
    mutate: p => {
      const path = join(state(p.root), 'session.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"status": "stopped"', '"status": "running"'));
    },
  },
  {
    what: 'a record write refused as a hand edit nobody made',
    expect: 'rejected_copy',
    mutate: p => cpSync(recordFile(p.root, quick), join(state(p.root), 'tasks', `${quick}.rejected-2026-01-01T00-00-00-000Z.json`)),
  },
  { what: 'an invalid task spec', expect: 'spec_invalid', mutate: p => writeFileSync(join(p.root, '.isollm', 'tasks', 'broken.json'), '{"goal": ') },
  {
    what: 'a worker file with an unknown status',
    expect: 'file_invalid',
    mutate: p => {
      const path = join(state(p.root), 'workers', 'w1.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace(/"status": "\w+"/, '"status": "dancing"'));
    },
  },
];

t.test('the good state dir passes the oracle, as crashed and as resumed', async t => {
  for (const phase of ['crashed', 'resumed'] as const) {
    const violations = await checkInvariants(good.root, { phase, marker: good.marker, outside: snapshotOutside(good.root, [good.outside]), decisions: new Map([[gated, 1]]) });
    t.same(formatViolations(violations), '', `no violation (${phase})`);
  }
});

t.test('an entry of a run that died, repeated by the run that resumed it in the same second, is not taken for one without its event', async t => {
  // The dead run wrote the line to the markdown and died before events.jsonl (a crash between the two
  // appends); the next run, started within the same second, wrote the same line and its event. The
  // event is the resumed run's: the entry left without a twin is the dead run's, which may lack it.
  const dir = join(base, 'same-second');
  cpSync(join(base, 'good'), dir, { recursive: true, verbatimSymlinks: true });
  const project: TortureProject = { ...good, root: join(dir, 'project'), outside: join(dir, 'outside') };
  const outside = snapshotOutside(project.root, [project.outside]);
  const text = readFileSync(runLog(project.root), 'utf8');
  const last = text.lastIndexOf('\n## Run: ');
  const entry = text.slice(last).split('\n').find(line => line.startsWith('- `')) ?? '';
  t.not(entry, '', 'the last run has an entry');
  const died = `\n## Run: 2026-01-01T00:00:00\n\n**Started**: 2026-01-01T00:00:00.000Z\n\n### Execution Log\n\n${entry}\n`;
  writeFileSync(runLog(project.root), `${text.slice(0, last)}${died}${text.slice(last)}`);
  const violations = await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside, decisions: new Map([[gated, 1]]) });
  t.same(formatViolations(violations.filter(v => v.invariant === 'log_mismatch')), '');
});

for (const [i, m] of mutations.entries()) {
  t.test(`the oracle catches ${m.what} (${m.expect})`, async t => {
    const dir = join(base, `m${i}`);
    cpSync(join(base, 'good'), dir, { recursive: true, verbatimSymlinks: true });
    const project: TortureProject = { ...good, root: join(dir, 'project'), outside: join(dir, 'outside') };
    const outside = snapshotOutside(project.root, [project.outside]);
    await m.mutate(project);
    const violations = await checkInvariants(project.root, { phase: m.phase ?? 'resumed', marker: project.marker, outside, decisions: m.decisions ?? new Map([[gated, 1]]) });
    t.ok(
      violations.some(v => v.invariant === m.expect),
      `caught as ${m.expect}`,
      { found: formatViolations(violations) },
    );
    rmSync(dir, { recursive: true, force: true });
  });
}

t.test('the oracle catches a process of the run still alive after the resume, and one no attempt names after a crash', async t => {
  const child = spawn('sleep', ['30'], { env: { ...process.env, [MARKER_ENV]: good.marker }, stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await new Promise(resolve => child.once('spawn', resolve));
  const resumed = await checkInvariants(good.root, { phase: 'resumed', marker: good.marker });
  t.ok(resumed.some(v => v.invariant === 'process_alive' && v.path === `/proc/${child.pid}`), 'process_alive', { found: formatViolations(resumed) });
  const crashed = await checkInvariants(good.root, { phase: 'crashed', marker: good.marker });
  t.ok(crashed.some(v => v.invariant === 'process_untracked' && v.path === `/proc/${child.pid}`), 'process_untracked', { found: formatViolations(crashed) });
});

t.test('after a crash, a fork of orch not yet exec\'d is judged once it has gone on (not taken for untracked)', async t => {
  // What /proc shows of a command between its fork and its exec: node, in its own group, with orch's
  // command line and environment (the torture marker, no session marker yet). Here it ends instead
  // of exec'ing; the oracle must wait for that rather than judge it at once.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)'], { env: { ...process.env, [MARKER_ENV]: good.marker }, stdio: 'ignore', detached: true });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await new Promise(resolve => child.once('spawn', resolve));
  const crashed = await checkInvariants(good.root, { phase: 'crashed', marker: good.marker });
  t.notOk(crashed.some(v => v.path === `/proc/${child.pid}`), 'not reported', { found: formatViolations(crashed) });
  const state = readProcessStat(child.pid ?? 0)?.state;
  t.ok(state === undefined || state === 'Z', `the oracle waited for it to end (state now: ${state ?? 'gone'})`);
});
