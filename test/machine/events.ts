import t from 'tap';
import { decisionEvent, eventForStateEdit } from '../../src/machine/events.js';

t.test('an inbox decision becomes the event of its action, with its note and phase', async t => {
  t.same(decisionEvent({ action: 'approve', actor: 'cli' }), { type: 'approve', actor: 'cli' });
  t.same(decisionEvent({ action: 'retry', actor: 'human', note: 'again', from_phase: 'plan' }), { type: 'retry', actor: 'human', note: 'again', from_phase: 'plan' });
  t.same(decisionEvent({ action: 'cancel', actor: 'cli', note: 'n' }), { type: 'cancel', actor: 'cli', note: 'n' });
});

t.test('a state set by hand in an AWAITING_HUMAN record is read as the decision it means', async t => {
  const gate = { state: 'AWAITING_HUMAN' as const, awaiting: { since: '2025-01-01T00:00:00Z', kind: 'gate' as const, reason: 'r', resume_state: 'IMPLEMENTING' as const, phase: 'implement' as const } };
  t.same(eventForStateEdit(gate, 'IMPLEMENTING', 'human'), { type: 'approve', actor: 'human' });
  t.same(eventForStateEdit(gate, 'PLAN_APPROVED', 'human'), { type: 'approve', actor: 'human' });
  t.same(eventForStateEdit(gate, 'FAILED', 'human'), { type: 'reject', actor: 'human' });
  t.same(eventForStateEdit(gate, 'PLANNING', 'human'), { type: 'replan', actor: 'human' });
  t.same(eventForStateEdit(gate, 'CANCELLED', 'human'), { type: 'cancel', actor: 'human' });
  t.same(eventForStateEdit(gate, 'CODE_REVIEW', 'human'), { type: 'retry', actor: 'human', from_phase: 'code_review' });
  t.equal(eventForStateEdit(gate, 'DONE', 'human'), undefined, 'DONE by hand means nothing legal');
  t.equal(eventForStateEdit(gate, 'NEW', 'human'), undefined);
  const plan = { state: 'AWAITING_HUMAN' as const, awaiting: { ...gate.awaiting, kind: 'plan_rejections' as const, resume_state: 'PLAN_APPROVED' as const } };
  t.same(eventForStateEdit(plan, 'IMPLEMENTING', 'human'), { type: 'approve', actor: 'human' });
  const exhausted = { state: 'AWAITING_HUMAN' as const, awaiting: { ...gate.awaiting, kind: 'exhausted' as const, resume_state: 'CODE_REVIEW' as const } };
  t.equal(eventForStateEdit(exhausted, 'PLAN_APPROVED', 'human'), undefined);
  t.equal(eventForStateEdit({ state: 'IMPLEMENTING' }, 'FAILED', 'human'), undefined, 'only an AWAITING_HUMAN record takes hand edits');
});
