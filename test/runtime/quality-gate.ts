// The quality gate's own failures (issue: real agents, item 8): a check that cannot run is a config
// problem that waits for a person at once; a check that fails sends its output's tail to the next
// implement attempt as feedback. Real npm, real node, real files.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { FULL_WORKFLOW, makeProject, STUB_AGENT } from '../fixtures/project.js';

const readRecord = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', `${id}.json`), 'utf8')) as TaskRecord;
/** Implement and the gate only: the retry and on_exhausted of the usual test workflow. */
const GATE_ONLY = { on_exhausted: FULL_WORKFLOW.on_exhausted ?? 'human', retry: FULL_WORKFLOW.retry ?? {} } as const;
const implement = { command: [process.execPath, STUB_AGENT] as [string, ...string[]] };

t.test("a gate check that cannot run (npm's missing script) costs one gate attempt and no agent rework: a person decides, with npm's words", async t => {
  const root = makeProject(t.testdir({ 'package.json': JSON.stringify({ name: 'app', private: true, scripts: { test: 'node -e ""' } }) }), {
    workflow: { ...GATE_ONLY, implement, quality_gate: { checks: { test: ['npm', 'test'], lint: ['npm', 'run', 'lint'] } } },
    tasks: { T1: { goal: 'lint is not a script here', steps: [{ id: 'S1' }] } },
  });
  await runOnce(root);
  const record = readRecord(root, 'T1');
  t.equal(record.state, 'AWAITING_HUMAN');
  t.match(record.awaiting, { kind: 'config', phase: 'quality_gate', reason: /lint: lint could not run \(exit 1\): npm error Missing script: "lint"/ });
  t.equal(record.attempts.filter(a => a.phase === 'implement').length, 1, 'the agent did not run again');
  t.equal(record.attempts.filter(a => a.phase === 'quality_gate').length, 1);
  t.match(record.attempts.find(a => a.phase === 'quality_gate')?.checks, [{ name: 'test', passed: true }, { name: 'lint', passed: false, runnable: false }]);
});

t.test('a gate check that fails hands the last lines of its output to the next implement attempt, and to the person when attempts run out', async t => {
  const failing = [process.execPath, '-e', 'for (let i = 1; i <= 100; i++) console.log("line " + i); console.error("AssertionError: expected 2 to equal 3"); process.exit(1)'] as [string, ...string[]];
  const root = makeProject(t.testdir({}), {
    workflow: {
      ...GATE_ONLY,
      implement: { ...implement, retry: { max_attempts: 2 } },
      quality_gate: { checks: { unit: failing } },
    },
    tasks: { T1: { goal: 'tests fail', steps: [{ id: 'S1' }] } },
  });
  await runOnce(root);
  const record = readRecord(root, 'T1');
  const second = record.attempts.filter(a => a.phase === 'implement')[1];
  t.ok(second !== undefined, 'implement ran again after the gate failed');
  const feedback = readFileSync(join(root, '.isollm', second?.artifacts_dir ?? '', 'feedback.md'), 'utf8');
  t.match(feedback, /❌ unit failed/);
  t.match(feedback, /--- unit output \(last lines\) ---/);
  t.match(feedback, /line 100\nAssertionError: expected 2 to equal 3/);
  t.notMatch(feedback, /line 40\n/, 'only the tail: the last 60 lines');
  t.equal(record.state, 'AWAITING_HUMAN');
  t.match(record.awaiting, { kind: 'exhausted', reason: /AssertionError: expected 2 to equal 3/ });
});
