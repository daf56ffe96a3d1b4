// The seal of a record: intact as written, a state-only edit told from any other, stamps ignored.
import t from 'tap';
import type { TaskRecord } from '../../src/generated/types.js';
import { createRecord } from '../../src/machine/record.js';
import { checkSeal, sealOf } from '../../src/store/record-seal.js';

const HASH = 'a'.repeat(64);

/** A record as orch would write it: waiting for a person after one failed attempt, sealed. */
function sealed(): TaskRecord {
  const base = createRecord({ goal: 'g' }, 'T', 'tasks/T.json', HASH, Date.parse('2026-01-01T00:00:00Z'));
  const record: TaskRecord = {
    ...base,
    state: 'AWAITING_HUMAN',
    history: [
      { at: base.created_at, from: 'NEW', to: 'IMPLEMENTING', reason: 'implement starts', actor: 'orch', generation: 1 },
      { at: base.created_at, from: 'IMPLEMENTING', to: 'AWAITING_HUMAN', reason: 'attempts spent', actor: 'orch', generation: 1 },
    ],
  };
  return { ...record, seal: sealOf(record) };
}

t.test('a record as written is intact, whatever its stamps and updated_at say', async t => {
  const record = sealed();
  t.same(checkSeal(record), { kind: 'intact' });
  t.same(checkSeal({ ...record, rev: 99, epoch: 7, updated_at: '2030-01-01T00:00:00.000Z' }), { kind: 'intact' });
  t.same(checkSeal(JSON.parse(JSON.stringify(record)) as TaskRecord), { kind: 'intact' }, 'through JSON and back');
});

t.test('only the state changed: the record as written is given back', async t => {
  const record = sealed();
  const check = checkSeal({ ...record, state: 'IMPLEMENTING' });
  t.equal(check.kind, 'state_edited');
  t.same(check.kind === 'state_edited' && check.original, record);
});

t.test('anything else changed, with or without the state, cannot be told back', async t => {
  const record = sealed();
  t.same(checkSeal({ ...record, cost: { ...record.cost, usd: 1 } }), { kind: 'edited' });
  t.same(checkSeal({ ...record, state: 'IMPLEMENTING', phase_attempts: 3 }), { kind: 'edited' });
  t.same(checkSeal({ ...record, seal: 'b'.repeat(64) }), { kind: 'edited' }, 'a seal that is not this record\'s');
});

t.test('a record without a seal (written before seals) is taken as it is', async t => {
  const { seal: _seal, ...record } = sealed();
  t.same(checkSeal({ ...record, state: 'DONE' }), { kind: 'unsealed' });
});
