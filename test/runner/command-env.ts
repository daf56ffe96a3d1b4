import t from 'tap';
import { join } from 'node:path';
import { attemptArtifacts } from '../../src/runner/artifacts.js';
import { buildCommandEnv, placeholdersOf, renderArgs } from '../../src/runner/command-env.js';

const vars = {
  task: { id: 'RAE-001', goal: 'Implement search; rm -rf $HOME', title: 'Search' },
  step: { id: 'S2', goal: 'Add BM25' },
  phase: 'implement',
  attempt: 2,
  prompt: 'Do "it" now',
  feedback: '',
  flags: { dry: true, none: null },
  plan: [{ id: 'S1' }],
};

t.test('placeholders are filled inside each argument, verbatim, with no shell in between', async t => {
  const argv = ['claude', '-p', '{{prompt}}', '--task={{task.id}}', '{{ task.goal }}', 'step {{step.id}}: {{step.goal}}', '{{phase}}#{{attempt}}', '{{feedback}}'];
  t.same(renderArgs(argv, vars), [
    'claude',
    '-p',
    'Do "it" now',
    '--task=RAE-001',
    'Implement search; rm -rf $HOME',
    'step S2: Add BM25',
    'implement#2',
    '',
  ]);
});

t.test('booleans, null, arrays and objects become text', async t => {
  t.same(renderArgs(['{{flags.dry}}', '[{{flags.none}}]', '{{plan}}', '{{step}}'], vars), [
    'true',
    '[]',
    '[{"id":"S1"}]',
    '{"id":"S2","goal":"Add BM25"}',
  ]);
});

t.test('an unknown placeholder is ORCH_CONFIG_INVALID naming it', async t => {
  t.throws(() => renderArgs(['run', '{{task.gaol}}'], vars), { code: 'ORCH_CONFIG_INVALID', details: { placeholder: 'task.gaol', argument: 1 } });
  t.throws(() => renderArgs(['{{nope}}'], vars), { code: 'ORCH_CONFIG_INVALID', message: /\{\{nope\}\}/ });
  t.throws(() => renderArgs(['{{task-goal}}'], vars), { code: 'ORCH_CONFIG_INVALID' }, 'a malformed placeholder too');
  t.throws(() => renderArgs(['{{}}'], vars), { code: 'ORCH_CONFIG_INVALID' });
});

t.test('a placeholder cannot reach object internals', async t => {
  t.throws(() => renderArgs(['{{task.constructor}}'], vars), { code: 'ORCH_CONFIG_INVALID' });
  t.throws(() => renderArgs(['{{__proto__}}'], vars), { code: 'ORCH_CONFIG_INVALID' });
  t.throws(() => renderArgs(['{{task.goal.length}}'], vars), { code: 'ORCH_CONFIG_INVALID' });
});

t.test('arguments without placeholders are left as they are, and placeholdersOf lists the used ones', async t => {
  t.same(renderArgs(['npm', 'test', '{single}', '}}{{'], vars).slice(0, 3), ['npm', 'test', '{single}']);
  t.same(placeholdersOf(['{{a.b}} {{ c }}', '{{a.b}}']), ['a.b', 'c']);
});

t.test('the command environment has the ORCH_* variables, which extra env cannot override', async t => {
  const env = buildCommandEnv(
    { PATH: '/bin', HOME: '/root', ORCH_STEP_ID: 'stale', ORCH_FEEDBACK_FILE: '/stale', UNSET: undefined },
    {
      taskId: 'T1',
      taskFile: '/p/.isollm/tasks/T1.json',
      recordFile: '/p/.isollm/state/tasks/T1.json',
      phase: 'plan',
      attempt: 1,
      artifactsDir: '/p/.isollm/runs/r1/T1/001-plan',
      resultFile: '/p/.isollm/runs/r1/T1/001-plan/result.json',
    },
    { EXTRA_VAR: 'x', ORCH_TASK_ID: 'hijack', HOME: '/home/agent' },
  );
  t.same(env, {
    PATH: '/bin',
    HOME: '/home/agent',
    EXTRA_VAR: 'x',
    ORCH_TASK_ID: 'T1',
    ORCH_TASK_FILE: '/p/.isollm/tasks/T1.json',
    ORCH_RECORD_FILE: '/p/.isollm/state/tasks/T1.json',
    ORCH_PHASE: 'plan',
    ORCH_ATTEMPT: '1',
    ORCH_ARTIFACTS_DIR: '/p/.isollm/runs/r1/T1/001-plan',
    ORCH_RESULT_FILE: '/p/.isollm/runs/r1/T1/001-plan/result.json',
  });
});

t.test('ORCH_STEP_ID and ORCH_FEEDBACK_FILE are set when the attempt has them', async t => {
  const env = buildCommandEnv({}, {
    taskId: 'T1',
    taskFile: 'a',
    recordFile: 'b',
    phase: 'implement',
    stepId: 'S2',
    attempt: 3,
    artifactsDir: 'c',
    resultFile: 'd',
    feedbackFile: 'e',
  });
  t.equal(env.ORCH_STEP_ID, 'S2');
  t.equal(env.ORCH_FEEDBACK_FILE, 'e');
  t.equal(env.ORCH_ATTEMPT, '3');
});

t.test('attempt artifacts live under runs/<run>/<task>/<NNN>-<phase>[-<step>]', async t => {
  const paths = attemptArtifacts('/p/.isollm', { runId: 'r-20251210', taskId: 'T1', attempt: 7, phase: 'implement', stepId: 'S2' });
  t.equal(paths.relativeDir, join('runs', 'r-20251210', 'T1', '007-implement-S2'));
  t.equal(paths.stdout, '/p/.isollm/runs/r-20251210/T1/007-implement-S2/stdout.log');
  t.equal(paths.result, '/p/.isollm/runs/r-20251210/T1/007-implement-S2/result.json');
  t.equal(attemptArtifacts('/s', { runId: 'r', taskId: 'T1', attempt: 1, phase: 'plan' }).relativeDir, join('runs', 'r', 'T1', '001-plan'));
  t.throws(() => attemptArtifacts('/s', { runId: '../x', taskId: 'T1', attempt: 1, phase: 'plan' }), { code: 'ORCH_UNSAFE_ID' });
});

t.test('a variable named __proto__ (a legal name) reaches the command like any other', async t => {
  const env = buildCommandEnv({ PATH: '/bin' }, { taskId: 'T', taskFile: 'f', recordFile: 'r', phase: 'implement', attempt: 1, artifactsDir: 'a', resultFile: 'x' }, JSON.parse('{"__proto__": "kept"}') as Record<string, string>);
  // An own entry, which child_process and execa pass on (checked outside tap: its process hooks copy
  // the env with an assignment and drop it, so a spawn here would prove nothing).
  t.equal(Object.getOwnPropertyDescriptor(env, '__proto__')?.value, 'kept');
  t.equal(env.ORCH_TASK_ID, 'T');
});
