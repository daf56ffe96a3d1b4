import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InboxDecision, TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));

/** A project whose `waiting` tasks always fail (3 attempts, then AWAITING_HUMAN) and whose `done` tasks pass. */
async function parkedProject(dir: string, waiting: string[], done: string[] = []): Promise<string> {
  const tasks = Object.fromEntries([
    ...waiting.map(id => [id, { goal: `fails: ${id}`, env: script({ implement: ['fail'] }) }] as const),
    ...done.map(id => [id, { goal: `passes: ${id}` }] as const),
  ]);
  const root = makeProject(dir, {
    workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { base_delay_s: 0.01, max_delay_s: 0.02, jitter: 0 }, on_exhausted: 'human' },
    tasks,
  });
  const result = await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  if (result.awaiting.length !== waiting.length) throw new Error(`expected ${waiting.join(',')} awaiting, got ${JSON.stringify(result)}`);
  return root;
}

t.test('each decision without an orchestrator is applied at once: the record moves, rev + 1, the history has the note and the actor; --json says so', async t => {
  const ids = ['A1', 'A2', 'A3', 'A4', 'A5', 'J1'];
  const root = await parkedProject(t.testdir(), ids);
  const cases = [
    { id: 'A1', args: ['approve', 'A1', '--note', 'looks fine'], word: /approved A1: AWAITING_HUMAN → IMPLEMENTING/ },
    { id: 'A2', args: ['reject', 'A2', '--note', 'not worth it'], word: /rejected A2: AWAITING_HUMAN → FAILED/ },
    { id: 'A3', args: ['retry', 'A3', '--from', 'implement', '--note', 'try once more'], word: /retried A3: AWAITING_HUMAN → IMPLEMENTING/ },
    { id: 'A4', args: ['replan', 'A4', '--note', 'plan it again'], word: /sent back to planning A4: AWAITING_HUMAN → / },
    { id: 'A5', args: ['cancel', 'A5', '--note', 'no longer needed'], word: /cancelled A5: AWAITING_HUMAN → CANCELLED/ },
  ];
  for (const c of cases) {
    const before = record(root, c.id);
    t.equal(before.state, 'AWAITING_HUMAN');
    const out = await runCli(c.args, { cwd: root });
    t.equal(out.code, 0, `${c.args.join(' ')}: ${out.stderr}`);
    t.match(out.stdout, c.word);
    t.match(out.stdout, `(rev ${before.rev} → ${before.rev + 1}); applied now`);
    const after = record(root, c.id);
    t.equal(after.rev, before.rev + 1, `${c.id}: one write`);
    t.not(after.state, 'AWAITING_HUMAN');
    const entry = after.history.slice(before.history.length).find(h => h.from === 'AWAITING_HUMAN');
    t.equal(entry?.actor, 'cli', `${c.id}: the history names the actor`);
    const note = c.args[c.args.indexOf('--note') + 1] ?? '';
    t.match(entry?.reason, note, `${c.id}: the history keeps the note`);
  }
  t.equal(record(root, 'A2').state, 'FAILED');
  t.equal(record(root, 'A5').state, 'CANCELLED');

  const before = record(root, 'J1');
  const json = await runCli(['approve', 'J1', '--json'], { cwd: root });
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), { mode: 'applied', task: 'J1', action: 'approve', from_rev: before.rev, rev: before.rev + 1, from_state: 'AWAITING_HUMAN', state: 'IMPLEMENTING' });
  t.same(readdirSync(join(root, '.isollm/inbox')).filter(n => n.endsWith('.json')), [], 'nothing was queued');
});

t.test('an illegal decision exits 2 naming the task, both states and the actor; an unknown task exits 2 too', async t => {
  const root = await parkedProject(t.testdir(), [], ['D1']);
  const before = record(root, 'D1');
  t.equal(before.state, 'DONE');
  const reject = await runCli(['reject', 'D1'], { cwd: root });
  t.equal(reject.code, 2);
  t.match(reject.stderr, /D1: DONE → FAILED \(reject\) by cli/);
  const approve = await runCli(['approve', 'D1', '--json'], { cwd: root });
  t.equal(approve.code, 2);
  t.match(JSON.parse(approve.stderr), { error: { code: 'ORCH_ILLEGAL_TRANSITION', details: { task: 'D1', from: 'DONE', actor: 'cli' } } });
  t.equal(record(root, 'D1').rev, before.rev, 'the record was not written');
  const missing = await runCli(['cancel', 'NOPE', '--json'], { cwd: root });
  t.equal(missing.code, 2);
  t.match(JSON.parse(missing.stderr), { error: { code: 'ORCH_NOT_FOUND' } });
  const badPhase = await runCli(['retry', 'D1', '--from', 'lunch'], { cwd: root });
  t.equal(badPhase.code, 2);
  t.match(badPhase.stderr, /--from "lunch" is not a phase/);
});

const SESSION_ACQUIRE = fileURLToPath(new URL('../fixtures/session-acquire.mjs', import.meta.url));

function waitForLine(child: ChildProcessWithoutNullStreams, test: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got: ${buffer}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find(test);
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(line);
      }
    };
    child.stdout.on('data', onData);
  });
}

t.test('with a live orchestrator holding the dir, a decision is queued in inbox/ against the rev seen, and the record is left alone', async t => {
  const root = await parkedProject(t.testdir(), ['Q1']);
  const holder = spawn(process.execPath, ['--import', 'tsx', SESSION_ACQUIRE, root], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    holder.stdin.end();
    holder.kill('SIGKILL');
  });
  await waitForLine(holder, l => l === 'ready', 'the session holder to start');
  holder.stdin.write('go\n');
  const got = JSON.parse(await waitForLine(holder, l => l.startsWith('{'), 'the holder to take the session'));
  t.equal(got.ok, true, 'the child holds the session');

  const before = record(root, 'Q1');
  const out = await runCli(['approve', 'Q1', '--note', 'go on'], { cwd: root });
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /queued approve of Q1 in .*inbox.*\.json/);
  t.match(out.stdout, `the running orchestrator (pid ${holder.pid} on `);
  t.match(out.stdout, `will apply it against rev ${before.rev}`);
  const files = readdirSync(join(root, '.isollm/inbox')).filter(n => n.endsWith('.json'));
  t.equal(files.length, 1);
  const decision = JSON.parse(readFileSync(join(root, '.isollm/inbox', files[0] ?? ''), 'utf8')) as InboxDecision;
  t.match(decision, { task_id: 'Q1', action: 'approve', against_rev: before.rev, note: 'go on', actor: 'cli' });
  t.same(record(root, 'Q1'), before, 'the record is the orchestrator\'s to write');

  const json = await runCli(['reject', 'Q1', '--json'], { cwd: root });
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), { mode: 'inbox', task: 'Q1', action: 'reject', against_rev: before.rev, holder: `pid ${holder.pid} on ` });
});

/** A project whose `failing` tasks end FAILED (a non-retryable error) and whose `done` tasks pass. */
async function failedProject(dir: string, failing: string[], done: string[] = []): Promise<string> {
  const tasks = Object.fromEntries([
    ...failing.map(id => [id, { goal: `fails: ${id}`, env: script({ implement: ['fatal'] }) }] as const),
    ...done.map(id => [id, { goal: `passes: ${id}` }] as const),
  ]);
  const root = makeProject(dir, { workflow: { implement: { command: [process.execPath, STUB_AGENT] }, retry: { base_delay_s: 0.01, max_delay_s: 0.02, jitter: 0 } }, tasks });
  const result = await runOnce(root, { env: { ...process.env, STUB_SCRIPT: '{}' } });
  if (result.failed.length !== failing.length) throw new Error(`expected ${failing.join(',')} failed, got ${JSON.stringify(result)}`);
  return root;
}

t.test('orch retry --failed lists the FAILED tasks and, without a terminal, refuses until --yes; then retries each as orch retry ID does', async t => {
  const root = await failedProject(t.testdir(), ['F1', 'F2'], ['D1']);
  const before = { F1: record(root, 'F1'), F2: record(root, 'F2'), D1: record(root, 'D1') };
  t.equal(before.F1.state, 'FAILED');

  const refused = await runCli(['retry', '--failed'], { cwd: root });
  t.equal(refused.code, 2, 'no terminal to ask on, no --yes');
  t.match(refused.stdout, /2 FAILED tasks to retry, each from the phase it failed in:\n {2}F1 {2}fails: F1 \(implement: .*invalid API key/);
  t.match(refused.stderr, /orch retry --failed needs a confirmation, and there is no terminal to ask on\n.*pass --yes/);
  for (const id of ['F1', 'F2'] as const) t.equal(record(root, id).rev, before[id].rev, `${id}: nothing written`);

  const out = await runCli(['retry', '--failed', '--yes', '--note', 'the key is fixed'], { cwd: root });
  t.equal(out.code, 0, out.stderr);
  for (const id of ['F1', 'F2'] as const) {
    t.match(out.stdout, `retried ${id}: FAILED → IMPLEMENTING (rev ${before[id].rev} → ${before[id].rev + 1}); applied now`);
    const after = record(root, id);
    t.equal(after.state, 'IMPLEMENTING');
    t.match(after.history.at(-1), { from: 'FAILED', to: 'IMPLEMENTING', actor: 'cli', reason: /the key is fixed/ });
  }
  t.same(record(root, 'D1'), before.D1, 'a DONE task is left alone');

  const none = await runCli(['retry', '--failed', '--json'], { cwd: root });
  t.equal(none.code, 0, none.stderr);
  t.same(JSON.parse(none.stdout), { tasks: [], retried: 0, refused: 0, invalid_total: 0 }, 'nothing FAILED: nothing asked, nothing done');

  const both = await runCli(['retry', 'F1', '--failed'], { cwd: root });
  t.equal(both.code, 2);
  t.match(both.stderr, /a task id or --failed, not both/);
  const neither = await runCli(['retry'], { cwd: root });
  t.equal(neither.code, 2);
  t.match(neither.stderr, /needs a task id, or --failed/);
});

t.test('orch retry --failed asks on a terminal: yes retries, anything else retries nothing', async t => {
  const root = await failedProject(t.testdir(), ['T1']);
  const rev = record(root, 'T1').rev;
  // `script` gives the command a real terminal; the answer is typed into it.
  const onTerminal = (answer: string): Promise<{ code: number | null; output: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn('script', ['-qec', `${process.execPath} ${ORCH_BIN} retry --failed`, '/dev/null'], { cwd: root, env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '' } });
      let output = '';
      const timer = setTimeout(() => reject(new Error(`no answer asked for within 15 s: ${output}`)), 15_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('[y/N]') && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
      });
      child.on('close', code => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  const no = await onTerminal('n');
  t.equal(no.code, 0, no.output);
  t.match(no.output, /Retry 1 task\? \[y\/N\][^]*nothing retried/);
  t.equal(record(root, 'T1').rev, rev, 'no: nothing written');
  const yes = await onTerminal('y');
  t.equal(yes.code, 0, yes.output);
  t.match(yes.output, /retried T1: FAILED → IMPLEMENTING/);
  t.equal(record(root, 'T1').state, 'IMPLEMENTING');
});

t.test('orch retry --failed with a live orchestrator queues one retry per FAILED task in inbox/, against the rev listed', async t => {
  const root = await failedProject(t.testdir(), ['Q1', 'Q2']);
  const holder = spawn(process.execPath, ['--import', 'tsx', SESSION_ACQUIRE, root], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    holder.stdin.end();
    holder.kill('SIGKILL');
  });
  await waitForLine(holder, l => l === 'ready', 'the session holder to start');
  holder.stdin.write('go\n');
  t.equal(JSON.parse(await waitForLine(holder, l => l.startsWith('{'), 'the holder to take the session')).ok, true);

  const before = { Q1: record(root, 'Q1'), Q2: record(root, 'Q2') };
  const out = await runCli(['retry', '--failed', '--yes', '--json'], { cwd: root });
  t.equal(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout) as { tasks: { mode: string; task: string; against_rev: number }[]; retried: number; refused: number };
  t.match(report, { retried: 2, refused: 0 });
  t.match(report.tasks, [{ mode: 'inbox', task: 'Q1', action: 'retry', against_rev: before.Q1.rev }, { mode: 'inbox', task: 'Q2', action: 'retry', against_rev: before.Q2.rev }]);
  const decisions = readdirSync(join(root, '.isollm/inbox')).filter(n => n.endsWith('.json')).map(n => JSON.parse(readFileSync(join(root, '.isollm/inbox', n), 'utf8')) as InboxDecision);
  t.same(decisions.map(d => [d.task_id, d.action, d.against_rev]).sort(), [['Q1', 'retry', before.Q1.rev], ['Q2', 'retry', before.Q2.rev]]);
  t.same(record(root, 'Q1'), before.Q1, 'the records are the orchestrator\'s to write');
});
