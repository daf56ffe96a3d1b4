import t from 'tap';
import { DEFAULT_RETRY } from '../../src/retry/backoff.js';
import { DEFAULT_MAX_INTERRUPTIONS, DEFAULT_MAX_PLAN_REJECTIONS, DEFAULT_NO_PROGRESS_LIMIT, resolveWorkflow, routeMatches } from '../../src/machine/workflow.js';
import { configWith, FULL_WORKFLOW } from './harness.js';

t.test('the workflow defaults are the documented ones', async t => {
  t.matchSnapshot({ DEFAULT_MAX_PLAN_REJECTIONS, DEFAULT_NO_PROGRESS_LIMIT, DEFAULT_MAX_INTERRUPTIONS }, 'workflow defaults');
  const wf = resolveWorkflow(configWith({ run: ['npm', 'test'] }), { goal: 'g' });
  t.equal(wf.name, 'default');
  t.equal(wf.on_exhausted, 'fail');
  t.equal(wf.max_plan_rejections, 2);
  t.equal(wf.no_progress_limit, 3);
  t.same(wf.human_gate, []);
  t.same(wf.phases.implement.command, ['npm', 'test'], 'run is implement.command');
  t.ok(wf.phases.implement.runs);
  for (const phase of ['plan', 'plan_review', 'step_review', 'code_review', 'quality_gate'] as const) {
    t.notOk(wf.phases[phase].runs, `${phase} passes through`);
  }
  t.same(wf.phases.implement.retry, DEFAULT_RETRY);
});

t.test('an unknown workflow name, or run beside implement.command, is a config error naming it', async t => {
  t.throws(() => resolveWorkflow(configWith({ run: ['x'] }), { goal: 'g', id: 'T1', workflow: 'fast' }), {
    code: 'ORCH_CONFIG_INVALID', message: /"fast"/, details: { workflow: 'fast', known: ['default'] },
  });
  t.throws(() => resolveWorkflow({ version: 1, project: 'p' }, { goal: 'g' }), { code: 'ORCH_CONFIG_INVALID', details: { workflow: 'default', known: [] } });
  t.throws(() => resolveWorkflow(configWith({ run: ['x'], implement: { command: ['y'] } }), { goal: 'g' }), { code: 'ORCH_CONFIG_INVALID', message: /both run and implement.command/ });
});

t.test('routes pick the model by the spec\'s fields, first match wins, reason kept', async t => {
  const config = configWith({
    ...FULL_WORKFLOW,
    plan: {
      command: ['p'], model: 'base', provider: 'cli',
      routes: [
        { when: { risk: 'high', area: 'core' }, model: 'best', reason: 'High-risk core task' },
        { when: { risk: 'high' }, model: 'good', provider: 'api' },
      ],
    },
  });
  const core = resolveWorkflow(config, { goal: 'g', risk: 'high', area: 'core' }).phases.plan;
  t.match(core, { model: 'best', provider: 'cli', routing: { reason: 'High-risk core task' } });
  const high = resolveWorkflow(config, { goal: 'g', risk: 'high' }).phases.plan;
  t.match(high, { model: 'good', provider: 'api', routing: { reason: 'route matched risk=high' } });
  const low = resolveWorkflow(config, { goal: 'g', risk: 'low' }).phases.plan;
  t.match(low, { model: 'base', routing: undefined });
  t.ok(routeMatches({ when: {} }, { goal: 'g' }), 'an empty when matches every task');
});

t.test('retry policy layers: defaults, config, workflow, phase, spec, spec timeout', async t => {
  const config = configWith(
    { ...FULL_WORKFLOW, retry: { max_attempts: 4, base_delay_s: 2 }, implement: { command: ['i'], retry: { max_attempts: 6 }, env: { A: '1', B: '1' } } },
    { retry: { strategy: 'fixed', max_delay_s: 30, max_attempts: 2 } },
  );
  const wf = resolveWorkflow(config, { goal: 'g', retry: { jitter: 0 }, timeout_s: 90, env: { B: '2' } });
  t.match(wf.phases.implement.retry, { strategy: 'fixed', max_attempts: 6, base_delay_s: 2, max_delay_s: 30, jitter: 0, timeout_s: 90 });
  t.match(wf.phases.plan.retry, { max_attempts: 4, timeout_s: 90 });
  t.same(wf.phases.implement.env, { A: '1', B: '2' }, 'the spec env wins');
  t.same(wf.phases.quality_gate.checks, { test: ['npm', 'test'], lint: ['npm', 'run', 'lint'] });
  t.ok(wf.phases.quality_gate.runs);
});

t.test('pre-planned steps skip plan and plan review (and their gates); limits come from the spec over the workflow', async t => {
  const config = configWith({ ...FULL_WORKFLOW, human_gate: ['plan', 'implement'], deadline_s: 100, max_cost_usd: 5, max_tokens: 1000, on_exhausted: 'human', max_plan_rejections: 0, no_progress_limit: 5 });
  const wf = resolveWorkflow(config, { goal: 'g', steps: [{ id: 'A' }], deadline_s: 50, max_cost_usd: 1 });
  t.ok(wf.planned);
  t.ok(wf.phases.plan.skipped);
  t.notOk(wf.phases.plan.runs);
  t.notOk(wf.phases.plan.gated);
  t.ok(wf.phases.implement.gated);
  t.match(wf, { deadline_s: 50, max_cost_usd: 1, max_tokens: 1000, on_exhausted: 'human', max_plan_rejections: 0, no_progress_limit: 5 });
  t.same(wf.human_gate, ['plan', 'implement']);
});
