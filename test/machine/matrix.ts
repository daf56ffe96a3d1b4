import t from 'tap';
import type { TaskRecord, TaskState } from '../../src/generated/types.js';
import { isOrchError } from '../../src/errors.js';
import { TASK_EVENT_TYPES, type TaskEvent, type TaskEventType } from '../../src/machine/events.js';
import { TASK_STATES } from '../../src/machine/states.js';
import { isLegal } from '../../src/machine/transitions.js';
import { nextAttemptNumber, openAttempt, transition } from '../../src/machine/transition.js';
import { APPROVED, configWith, deepFreeze, driver, FULL_WORKFLOW, HASH2, PLAN_2, T0, type Driver } from './harness.js';

const spec = { title: 'Matrix task', goal: 'g' };
const config = configWith({ ...FULL_WORKFLOW, human_gate: ['implement'] });

/** A driver whose record rests in `state` (running states with an attempt open). */
function at(state: TaskState): Driver {
  const d = driver(spec, config);
  const toImplement = () => {
    d.send({ type: 'start' });
    d.run({ result: PLAN_2 });
    d.run({ result: APPROVED });
    d.send({ type: 'approve', actor: 'cli' });
  };
  switch (state) {
    case 'NEW':
      break;
    case 'PLANNING':
      d.send({ type: 'start' });
      d.begin();
      break;
    case 'PLAN_REVIEW':
      d.send({ type: 'start' });
      d.run({ result: PLAN_2 });
      d.begin();
      break;
    case 'PLAN_APPROVED':
    case 'PLAN_REJECTED':
      // Passed through within one event by the machine; a record can rest here only by hand or by an older orch.
      d.send({ type: 'start' });
      d.run({ result: PLAN_2 });
      d.record = { ...d.record, state };
      break;
    case 'IMPLEMENTING':
      toImplement();
      d.begin();
      break;
    case 'CODE_REVIEW':
      toImplement();
      for (let i = 0; i < 4; i++) d.run({ result: APPROVED });
      d.begin();
      break;
    case 'QUALITY_GATE':
      toImplement();
      for (let i = 0; i < 5; i++) d.run({ result: APPROVED });
      d.begin();
      break;
    case 'AWAITING_HUMAN':
      d.send({ type: 'start' });
      d.run({ result: PLAN_2 });
      d.run({ result: APPROVED });
      break;
    case 'DONE':
      toImplement();
      for (let i = 0; i < 6; i++) d.run({ result: APPROVED });
      break;
    case 'FAILED':
      d.send({ type: 'start' });
      d.run({ reason: 'failed', retryable: false });
      break;
    case 'CANCELLED':
      d.send({ type: 'start' });
      d.send({ type: 'cancel', actor: 'cli' });
      break;
    default: {
      const never: never = state;
      throw new Error(String(never));
    }
  }
  if (d.record.state !== state) throw new Error(`fixture for ${state} ended in ${d.record.state}`);
  // Every record carries a deadline already passed, so deadline_passed shows where it acts.
  d.record = { ...d.record, deadline_at: new Date(T0).toISOString() };
  d.now = T0 + 3_600_000;
  return d;
}

function eventFor(type: TaskEventType, record: TaskRecord): TaskEvent {
  switch (type) {
    case 'start':
    case 'deadline_passed':
    case 'spec_deleted':
      return { type };
    case 'attempt_started':
      return {
        type,
        attempt: {
          n: nextAttemptNumber(record),
          phase: record.phase ?? 'plan',
          ...(record.phase === 'implement' ? { step_id: record.steps[record.step_index ?? 0]?.id ?? 'S1' } : {}),
          started_at: new Date(T0).toISOString(),
          artifacts_dir: 'runs/m',
        },
      };
    case 'attempt_finished':
      return { type, n: openAttempt(record)?.n ?? 1, reason: 'succeeded', retryable: true, exit_code: 0, signal: null, result: APPROVED };
    case 'approve':
    case 'reject':
    case 'replan':
    case 'cancel':
      return { type, actor: 'cli' };
    case 'retry':
      return { type, actor: 'cli' };
    case 'spec_changed':
      return { type, spec: { ...spec, goal: 'g2' }, hash: HASH2, mode: 'restart' };
    case 'hand_edit_found':
      return { type, reason: 'edited while no orchestrator ran' };
    case 'worktree_planned':
      return { type, worktree: { path: '/wt/T', branch: 'orch/T', base_sha: 'a'.repeat(40) } };
    default: {
      const never: never = type;
      throw new Error(String(never));
    }
  }
}

function outcome(d: Driver, type: TaskEventType): string {
  const input = deepFreeze(structuredClone(d.record));
  try {
    const out = transition(input, eventFor(type, input), d.ctx());
    const hops = out.record.history.slice(input.history.length).map(h => `${h.to}(${h.actor})`);
    const effects = out.effects.filter(e => e.type !== 'log').map(e => (e.type === 'run_phase' ? `run ${e.phase}` : 'stop'));
    const moved = hops.length === 0 ? (out.record === input ? 'no change' : 'recorded') : `→ ${hops.join(' → ')}`;
    return effects.length === 0 ? moved : `${moved} [${effects.join(', ')}]`;
  } catch (error) {
    if (isOrchError(error)) return `✗ ${error.code}`;
    throw error;
  }
}

t.test('every (state × event) pair has one outcome, legal moves only', async t => {
  const rows: Record<string, Record<string, string>> = {};
  const lines: string[] = [];
  for (const state of TASK_STATES) {
    const d = at(state);
    rows[state] = Object.fromEntries(TASK_EVENT_TYPES.map(type => [type, outcome(d, type)]));
    lines.push(state, ...TASK_EVENT_TYPES.map(type => `  ${type.padEnd(17)} ${rows[state]?.[type]}`));
  }
  t.matchSnapshot(lines.join('\n'), 'state × event outcomes');
  // Every hop in the matrix was checked against the table; spot-check that the table agrees.
  t.ok(isLegal('AWAITING_HUMAN', 'IMPLEMENTING', 'cli'));
  t.notOk(isLegal('IMPLEMENTING', 'FAILED', 'cli'));
  t.equal(rows.DONE?.start, '✗ ORCH_ILLEGAL_TRANSITION');
  t.match(rows.DONE?.spec_changed, /^→ NEW\(orch\) → PLANNING\(orch\)/);
  t.equal(rows.AWAITING_HUMAN?.approve, '→ IMPLEMENTING(cli) [run implement]');
});
