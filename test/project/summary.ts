import t from 'tap';
import { summarizeRecords } from '../../src/project/summary.js';
import { at, attempt, makeRecord } from '../fixtures/read-records.js';

t.test('the summary adds cost by role and by model, counts attempts by reason, and measures durations', async t => {
  const report = summarizeRecords([
    makeRecord('A', {
      state: 'DONE',
      state_since: at(100),
      updated_at: at(100),
      history: [{ at: at(10), from: 'NEW', to: 'PLANNING', reason: 'go', actor: 'orch' }],
      cost: { usd: 0.5, tokens: 500, by_role: { plan: { usd: 0.1, tokens: 100, calls: 1, model: 'm1' }, implement: { usd: 0.4, tokens: 400, calls: 2 } } },
      attempts: [
        attempt(1, 'plan', { ended_at: at(14), reason: 'succeeded', model: 'm1', provider: 'p', cost_usd: 0.1, tokens: 100 }),
        attempt(2, 'implement', { ended_at: at(26), reason: 'failed', model: 'm2', provider: 'p', cost_usd: 0.15, tokens: 150 }),
        attempt(3, 'implement', { ended_at: at(40), reason: 'succeeded', model: 'm2', provider: 'p', cost_usd: 0.25, tokens: 250 }),
      ],
    }),
    makeRecord('B', { state: 'AWAITING_HUMAN', updated_at: at(200), cost: { usd: 0.2, tokens: 10, by_role: { implement: { usd: 0.2, tokens: 10, calls: 1 } } }, attempts: [attempt(1, 'implement')] }),
  ], 2);
  t.equal(report.tasks, 2);
  t.match(report.counts, { DONE: 1, AWAITING_HUMAN: 1, NEW: 0 });
  t.same(report.cost, { usd: 0.7, tokens: 510 });
  t.same(report.by_role, [
    { phase: 'implement', role: 'implementer', usd: 0.6000000000000001, tokens: 410, calls: 3 },
    { phase: 'plan', role: 'planner', usd: 0.1, tokens: 100, calls: 1 },
  ]);
  t.same(report.by_model.map(m => [m.model, m.calls]), [['p/m2', 2], ['p/m1', 1]]);
  t.same(report.attempts, { succeeded: 2, failed: 1, running: 1 });
  t.same(report.durations.by_phase.map(p => [p.phase, p.count, p.total_s, p.max_s]), [['plan', 1, 4, 4], ['implement', 2, 16, 10]]);
  t.match(report.durations.finished_tasks, { count: 1, total_s: 90 });
  t.equal(report.durations.span_s, 200);
  t.same([report.done, report.awaiting, report.failed], [['A'], ['B'], []]);
  t.equal(report.invalid_records, 2);
});
