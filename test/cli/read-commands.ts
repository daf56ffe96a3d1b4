import t from 'tap';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { makeProject, script, STUB_AGENT } from '../fixtures/project.js';
import { runCli, type CliResult } from '../fixtures/run-cli.js';

// One project for the whole file, run once by the real engine with the stub agent: OK1 ends DONE,
// FATAL FAILED (non-retryable), FLAKY AWAITING_HUMAN (always fails, on_exhausted human). Then a spec
// with a syntax error and one the orchestrator has not taken up yet.
const root = t.testdir();
makeProject(root, {
  workflow: {
    plan: { command: [process.execPath, STUB_AGENT], model: 'stub-planner', provider: 'stub' },
    plan_review: { command: [process.execPath, STUB_AGENT] },
    implement: { command: [process.execPath, STUB_AGENT] },
    retry: { base_delay_s: 0.01, max_delay_s: 0.02, jitter: 0 },
    on_exhausted: 'human',
  },
  tasks: {
    OK1: { title: 'Works fine', goal: 'do it' },
    FLAKY: { title: 'Always fails', goal: 'fail forever', env: script({ implement: ['fail'] }) },
    FATAL: { goal: 'a fatal thing\nwith a second line', env: script({ implement: ['fatal'] }) },
  },
});
const run = await runOnce(root);
t.same([run.done, run.failed, run.awaiting], [['OK1'], ['FATAL'], ['FLAKY']], 'the fixture project ran as planned');
writeFileSync(join(root, '.isollm/tasks/bad.json'), '{\n  "goal": "x"\n  "priority": 1\n}\n');
writeFileSync(join(root, '.isollm/tasks/LATER.json'), JSON.stringify({ title: 'not yet', depends_on: ['OK1'] }));

const ESC = '\u001b[';
/**
 * Runs orch in the project. chalk is forced to colour (FORCE_COLOR) and NO_COLOR set (by runCli):
 * every output of this file is checked to hold no escape code.
 */
async function orch(args: string[], cwd: string = root): Promise<CliResult> {
  const result = await runCli(args, { cwd, env: { FORCE_COLOR: '3' } });
  if (result.stdout.includes(ESC) || result.stderr.includes(ESC)) throw new Error(`orch ${args.join(' ')} printed escape codes under NO_COLOR:\n${result.stdout}${result.stderr}`);
  return result;
}
const json = <T = Record<string, unknown>>(result: CliResult): T => JSON.parse(result.stdout) as T;

t.test('status lists the session, every task running-first, counts per state, and the invalid spec with its reason', async t => {
  const result = await orch(['status']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^orchestrator stopped: last run \S+/);
  const ids = result.stdout.split('\n').map(line => line.split(/\s+/)[0]).filter(id => ['OK1', 'FLAKY', 'FATAL', 'LATER'].includes(id ?? ''));
  t.same(ids, ['FLAKY', 'LATER', 'FATAL', 'OK1'], 'waiting first, then queued, then finished');
  t.match(result.stdout, /FLAKY\s+AWAITING_HUMAN\s+implement\s+S1\s+\d+\s+human \(exhausted\)/);
  t.match(result.stdout, /4 tasks: 1 NEW, 1 AWAITING_HUMAN, 1 DONE, 1 FAILED/);
  t.match(result.stdout, /invalid \.isollm\/tasks\/bad\.json:3:3: invalid JSON/);
});

t.test('status --json is bounded and paged by --limit, --offset and --fields', async t => {
  const [full, pagedRun, text] = await Promise.all([
    orch(['status', '--json']),
    orch(['status', '--json', '--limit', '2', '--offset', '1', '--fields', 'id,state']),
    orch(['status', '--fields', 'state,id', '--limit', '1']),
  ]);
  const all = json<{ tasks: { id: string; activity: string }[]; counts: Record<string, number>; invalid: { path: string; reason: string; line: number }[]; page: unknown; session: { state: string } }>(full);
  t.same(all.tasks.map(row => row.id), ['FLAKY', 'LATER', 'FATAL', 'OK1']);
  t.same(all.tasks.map(row => row.activity), ['human', 'queued', 'failed', 'done']);
  t.match(all.counts, { AWAITING_HUMAN: 1, DONE: 1, FAILED: 1, NEW: 1, IMPLEMENTING: 0 });
  t.match(all.invalid, [{ path: '.isollm/tasks/bad.json', code: 'ORCH_INVALID_JSON', line: 3, reason: /invalid JSON/ }]);
  t.same(all.page, { total: 4, offset: 0, limit: 50, more: false });
  t.equal(all.session.state, 'stopped');

  const paged = json<{ tasks: Record<string, unknown>[]; page: unknown }>(pagedRun);
  t.same(paged.tasks, [{ id: 'LATER', state: 'NEW' }, { id: 'FATAL', state: 'FAILED' }]);
  t.same(paged.page, { total: 4, offset: 1, limit: 2, more: true });
  t.match(text.stdout, /STATE\s+ID\nAWAITING_HUMAN\s+FLAKY\n/);
  t.match(text.stdout, /tasks 1-1 of 4/);
});

t.test('bad bounds are usage errors (exit 2) that name what is allowed', async t => {
  const [field, limit, offset] = await Promise.all([orch(['status', '--fields', 'id,nope']), orch(['status', '--json', '--limit', '0']), orch(['show', 'OK1', '--offset', '3'])]);
  t.equal(offset.code, 2);
  t.match(offset.stderr, /--offset pages a listing: orch show has none/);
  t.equal(field.code, 2);
  t.match(field.stderr, /unknown field "nope" for orch status/);
  t.match(field.stderr, /known fields: id, title, state/);
  t.equal(limit.code, 2);
  t.match(json<{ error: { code: string } }>({ ...limit, stdout: limit.stderr }).error, { code: 'ORCH_USAGE', message: /--limit "0"/ });
});

t.test('show gives spec, state, steps, attempts with artifacts, history, cost and the wait', async t => {
  const [text, full, boundedRun] = await Promise.all([
    orch(['show', 'FLAKY']),
    orch(['show', 'FLAKY', '--json']),
    orch(['show', 'FLAKY', '--json', '--limit', '1', '--fields', 'id,attempts']),
  ]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^FLAKY {2}Always fails\nstate: AWAITING_HUMAN since /);
  t.match(text.stdout, /waiting for a human since .*: exhausted: implement failed 3\/3 attempts/);
  t.match(text.stdout, /history \(\d+\)\n\s+TIME\s+FROM → TO\s+ACTOR\s+REASON\n.*NEW → PLANNING\s+orch/);
  t.match(text.stdout, /attempts \(5\)/);
  t.match(text.stdout, /planner \(plan\) stub\/stub-model: \$0\.01, 150 tokens, 1 call\(s\)/);
  t.match(text.stdout, /last review: approved by orch \(plan_review\)/);

  const detail = json<{ state: string; attempts: { phase: string; reason: string; exit_code: number; artifacts_dir: string }[]; history: { from: string; to: string; actor: string }[]; awaiting: { kind: string }; spec: { env_keys: string[] }; totals: Record<string, number> }>(full);
  t.equal(detail.state, 'AWAITING_HUMAN');
  t.equal(detail.awaiting.kind, 'exhausted');
  t.same(detail.attempts.map(a => `${a.phase}:${a.reason}:${a.exit_code}`), ['plan:succeeded:0', 'plan_review:succeeded:0', 'implement:failed:1', 'implement:failed:1', 'implement:failed:1']);
  t.ok(detail.attempts.every(a => existsSync(join(a.artifacts_dir, 'stdout.log'))), 'artifacts dirs are absolute and exist');
  t.same(detail.spec.env_keys, ['STUB_SCRIPT'], 'env names only, never values');
  t.match(detail.history.at(-1), { from: 'IMPLEMENTING', to: 'AWAITING_HUMAN', actor: 'orch' });

  const bounded = json<Record<string, unknown> & { attempts: { n: number }[]; totals: Record<string, number> }>(boundedRun);
  t.same(Object.keys(bounded).sort(), ['attempts', 'id', 'totals']);
  t.equal(bounded.attempts.length, 1, 'only the latest attempt');
  t.equal(bounded.attempts[0]?.n, bounded.totals.attempts, 'the latest one');
});

t.test('show of an unknown or unsafe id exits 2 with a clear message; a spec not taken up yet is shown', async t => {
  const [unknown, asJson, unsafe, later] = await Promise.all([
    orch(['show', 'NOPE']), orch(['show', 'NOPE', '--json']), orch(['show', '../etc']), orch(['show', 'LATER', '--json']),
  ]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /error: no task "NOPE": no record in \.isollm\/state\/tasks\/ and no spec/);
  t.match(unknown.stderr, /hint: run `orch status`/);
  t.equal(asJson.code, 2);
  t.match(JSON.parse(asJson.stderr), { error: { code: 'ORCH_NOT_FOUND' } });
  t.equal(unsafe.code, 2);
  t.match(unsafe.stderr, /not allowed/);
  t.match(json(later), { id: 'LATER', recorded: false, state: null, spec: { depends_on: ['OK1'] } });
});

t.test('review and --review list the parked task with why, since when, and the exact commands', async t => {
  const [review, flag, dataRun, elsewhere] = await Promise.all([
    orch(['review']), orch(['--review']), orch(['--review', '--json']), orch(['--root', root, '--review'], t.testdir()),
  ]);
  t.equal(review.code, 0, review.stderr);
  t.equal(flag.code, 0, flag.stderr);
  t.equal(flag.stdout.replace(/\(\d+\w* ago\)|\d+\w* ago/g, ''), review.stdout.replace(/\(\d+\w* ago\)|\d+\w* ago/g, ''), 'the flag and the command say the same');
  t.match(review.stdout, /^1 task is waiting for a human:\n\nFLAKY {2}Always fails\n {2}waiting since /);
  t.match(review.stdout, /why: exhausted at implement: implement failed 3\/3 attempts/);
  t.match(review.stdout, /last error: exited with code 1.* \(implement, failed,/);
  t.match(review.stdout, /last review: approved by orch \(plan_review\)/);
  t.match(review.stdout, /\n {2}plan \(2 steps, from the planner\):\n {2}→ S1 {2}IMPLEMENTING {2}First step: do the first part \(3 attempts\)\n {4}S2 {2}PENDING {7}Second step: do the rest\n {2}act:\n/, 'the plan: each step, and where it stopped');
  for (const command of ['orch approve FLAKY --note "..."', 'orch retry FLAKY --from implement', 'orch replan FLAKY', 'orch reject FLAKY', 'orch cancel FLAKY']) {
    t.ok(review.stdout.includes(`    ${command}  `), `lists ${command}`);
  }
  const data = json<{ tasks: { id: string; kind: string; since: string; commands: { command: string; effect: string }[] }[]; page: unknown }>(dataRun);
  t.equal(data.tasks.length, 1);
  t.match(data.tasks[0], { id: 'FLAKY', kind: 'exhausted', since: /^\d{4}-/ });
  t.match(data.tasks[0], { plan: { source: 'planner', steps: [
    { id: 'S1', title: 'First step', goal: 'do the first part', state: 'IMPLEMENTING', attempts: 3, current: true },
    { id: 'S2', title: 'Second step', goal: 'do the rest', state: 'PENDING', attempts: 0, current: false },
  ] } });
  t.same(data.tasks[0]?.commands.map(c => c.command), ['orch approve FLAKY --note "..."', 'orch retry FLAKY --from implement', 'orch replan FLAKY', 'orch reject FLAKY', 'orch cancel FLAKY']);
  t.ok(elsewhere.stdout.includes(`orch --root ${root} approve FLAKY --note "..."`), 'with --root, the commands carry it');
});

t.test('review says so in one line when nothing waits', async t => {
  const empty = makeProject(t.testdir());
  const [result, data] = await Promise.all([orch(['review'], empty), orch(['review', '--json', '--fields', 'id,reason'], empty)]);
  t.equal(result.code, 0);
  t.equal(result.stdout, 'No task is waiting for a human.\n');
  t.same(json(data), { tasks: [], page: { total: 0, offset: 0, limit: 50, more: false }, invalid: [], invalid_total: 0 });
});

t.test('log prints the last run section; --json the last events, bounded, skipping a torn line', async t => {
  const torn = t.testdir();
  makeProject(torn);
  appendFileSync(join(torn, '.isollm/events.jsonl'), `${JSON.stringify({ version: 1, at: '2025-01-01T00:00:00.000Z', run_id: 'r1', category: 'task', level: 'info', message: 'one' })}\n{"version":1,"at":"2025-01`);
  const [text, eventsRun, tornRun, none, misuse] = await Promise.all([
    orch(['log']), orch(['log', '--json', '--limit', '3', '--fields', 'at,message']), orch(['log', '--json'], torn), orch(['log'], torn), orch(['log', '--fields', 'at']),
  ]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^## Run: \d{4}-/);
  t.match(text.stdout, /### Execution Log/);
  t.match(text.stdout, /Task FLAKY awaiting human review/);
  t.match(text.stdout, /### Run Summary[\s\S]*\*\*Tasks Needing Review\*\*: 1/);

  const events = json<{ events: { at: string; message: string }[]; page: { more: boolean }; skipped: unknown[] }>(eventsRun);
  t.equal(events.events.length, 3);
  t.same(Object.keys(events.events[0] ?? {}), ['at', 'message']);
  t.ok(events.page.more);
  t.match(events.events.at(-1)?.message, /^Tasks this run touched \(3\): FATAL, FLAKY, OK1$/, 'the last event: the tasks the run touched');
  t.match(events.events.at(-2)?.message, /completed with status|awaiting human review/);

  const read = json<{ events: { message: string }[]; skipped: { from_end: number }[] }>(tornRun);
  t.same(read.events.map(e => e.message), ['one']);
  t.match(read.skipped, [{ from_end: 1 }]);
  t.match(none.stdout, /^no run log yet at ORCHESTRATOR_RUN_LOG\.md/);
  t.equal(misuse.code, 2);
  t.match(misuse.stderr, /--fields selects the keys of events/);
});

t.test('summary and --summary: counts, cost and tokens by role and model, durations, task lists', async t => {
  const [text, flag, dataRun] = await Promise.all([orch(['summary']), orch(['--summary']), orch(['--summary', '--json', '--fields', 'counts,cost,done'])]);
  t.equal(text.code, 0, text.stderr);
  t.equal(flag.stdout, text.stdout);
  t.match(text.stdout, /^3 tasks: 1 AWAITING_HUMAN, 1 DONE, 1 FAILED\n/);
  t.match(text.stdout, /total cost: \$0\.\d\d, \d+ tokens/);
  t.match(text.stdout, /cost by role\n\s+ROLE\s+CALLS\s+TOKENS\s+COST\n\s+planner \(plan\)\s+3/);
  t.match(text.stdout, /cost by model\n\s+MODEL\s+CALLS\s+TOKENS\s+COST\n\s+stub\/stub-model/);
  t.match(text.stdout, /finished tasks: 2, total/);
  t.match(text.stdout, /done: OK1\nfailed: FATAL\nawaiting a human: FLAKY/);

  const data = json<{ counts: Record<string, number>; cost: { usd: number; tokens: number }; done: string[]; totals: Record<string, number> }>(dataRun);
  t.same(Object.keys(data), ['counts', 'cost', 'done', 'totals']);
  t.same(data.totals, { done: 1 }, 'the full length of each list shown');
  t.match(data.counts, { DONE: 1, FAILED: 1, AWAITING_HUMAN: 1 });
  t.ok(data.cost.usd > 0 && data.cost.tokens > 0);
  t.same(data.done, ['OK1']);
});

t.test('tail shows the latest attempt of a task; unknown ids exit 2; nothing running says so', async t => {
  const [text, dataRun, unknown, idle, notYet] = await Promise.all([orch(['tail', 'FLAKY']), orch(['tail', 'FLAKY', '--json']), orch(['tail', 'NOPE']), orch(['tail']), orch(['tail', 'LATER'])]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /==> FLAKY #\d+ implement S1 stdout \(failed, exit 1\) <==\nstub implement:S1 attempt 3: fail\n/);
  t.match(text.stdout, /==> FLAKY #\d+ implement S1 stderr \(failed, exit 1\) <==\nError: transient failure/);
  const data = json<{ attempts: { task_id: string; running: boolean; stdout: string; stderr: string; stdout_path: string }[] }>(dataRun);
  t.match(data.attempts, [{ task_id: 'FLAKY', running: false, stdout: /attempt 3: fail/, stderr: /transient failure/ }]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /no task "NOPE"/);
  t.equal(idle.stdout, 'no attempt is running\n');
  t.equal(notYet.stdout, 'task LATER has no attempt yet\n');
});

t.test('the read commands have --help with examples', async t => {
  const helps = await Promise.all(['status', 'review'].map(command => orch([command, '--help'])));
  for (const [i, command] of ['status', 'review'].entries()) {
    t.equal(helps[i]?.code, 0);
    t.match(helps[i]?.stdout, new RegExp(`Examples:\\n\\s+\\$ orch ${command}`), `orch ${command} --help`);
  }
});
