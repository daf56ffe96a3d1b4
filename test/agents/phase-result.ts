import t from 'tap';
import { lastFencedJson } from '../../src/agents/fenced-result.js';
import { resolvePhaseResult } from '../../src/agents/phase-result.js';

const resultFile = '/p/.isollm/runs/r/T/001-plan/result.json';

t.test('the last fenced JSON object of a message is the result; prose fences and broken JSON are passed over', async t => {
  const text = 'Example:\n```json\n{"outcome": "rejected"}\n```\nMy verdict:\n```json\n{"outcome": "approved"}\n```\n```\nnot json\n```\n```json\n{broken\n```';
  t.same(lastFencedJson(text), { outcome: 'approved' });
  t.equal(lastFencedJson('no fence at all'), undefined);
  t.equal(lastFencedJson('```json\n[1, 2]\n```'), undefined, 'an array is not a result');
  t.same(lastFencedJson('```\n{"plan": []}\n```'), { plan: [] }, 'a bare fence holding an object counts');
  t.equal(lastFencedJson(undefined), undefined);
});

t.test('a review with no verdict anywhere has failed: it never approves', async t => {
  for (const phase of ['plan_review', 'step_review', 'code_review'] as const) {
    const judged = resolvePhaseResult({ phase, fromFile: undefined, resultFile, report: { final_message: 'Looks good to me!' } });
    t.match(judged.problem, new RegExp(`no verdict .* in the output of ${phase}`));
  }
  const withCostOnly = resolvePhaseResult({ phase: 'code_review', fromFile: { cost_usd: 0.1 }, resultFile, report: {} });
  t.match(withCostOnly.problem, /no verdict/, 'a result file without an outcome is no verdict');
  t.equal(withCostOnly.result?.cost_usd, 0.1, 'but its cost still counts');
});

t.test('a plan phase that named no steps has failed: no silent one-step plan', async t => {
  t.match(resolvePhaseResult({ phase: 'plan', fromFile: undefined, resultFile, report: {} }).problem, /no plan .* in the output of plan/);
  t.match(resolvePhaseResult({ phase: 'plan', fromFile: { plan: [] }, resultFile, report: {} }).problem, /no plan/);
  t.equal(resolvePhaseResult({ phase: 'implement', fromFile: undefined, resultFile, report: {} }).problem, undefined, 'implement decides nothing');
});

t.test('channels in order: the result file, then the structured output, then the final message; the first that decides wins', async t => {
  const report = { structured: { outcome: 'rejected', reason: 'r' }, final_message: '```json\n{"outcome": "approved"}\n```' };
  t.match(resolvePhaseResult({ phase: 'code_review', fromFile: { outcome: 'approved' }, resultFile, report }), { source: 'result_file', result: { outcome: 'approved' } });
  t.match(resolvePhaseResult({ phase: 'code_review', fromFile: undefined, resultFile, report }), { source: 'structured', result: { outcome: 'rejected' } });
  t.match(resolvePhaseResult({ phase: 'code_review', fromFile: { cost_usd: 1 }, resultFile, report: { final_message: report.final_message } }), {
    source: 'final_message', result: { outcome: 'approved' }, problem: undefined,
  });
});

t.test('a malformed result fails a deciding phase with where and what; in prose it does not fail implement', async t => {
  const judged = resolvePhaseResult({ phase: 'code_review', fromFile: undefined, resultFile, report: { final_message: '```json\n{"outcome": "maybe"}\n```' } });
  t.match(judged.problem, /the result in the JSON block of the final message is invalid: .*outcome/);
  const implement = resolvePhaseResult({ phase: 'implement', fromFile: undefined, resultFile, report: { structured: { files: ['a.ts'] }, final_message: '{"files": ["a.ts"]}' } });
  t.equal(implement.problem, undefined, "an implementer's bare-JSON answer is not a result it failed to write");
  const file = resolvePhaseResult({ phase: 'implement', fromFile: { outcome: 'maybe' } as never, resultFile, report: {} });
  t.match(file.problem, /the result in .*result\.json is invalid/, 'a malformed result file fails any phase');
});

t.test("the client's model, cost and tokens win over what the agent wrote about itself", async t => {
  const judged = resolvePhaseResult({
    phase: 'implement', fromFile: { model: 'claimed', cost_usd: 9, tokens: 5 }, resultFile,
    report: { model: 'served', cost_usd: 0.02, tokens: { input: 1000, output: 200 } },
  });
  t.same(judged.result, { model: 'served', cost_usd: 0.02, tokens: { input: 1000, output: 200, total: 1200 } });
  t.equal(resolvePhaseResult({ phase: 'implement', fromFile: undefined, resultFile, report: {} }).result, undefined);
});
