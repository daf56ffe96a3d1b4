import t from 'tap';
import { OrchError, isOrchError, hasCode, ERROR_CODES } from '../src/errors.js';

t.test('an OrchError carries a stable code and the exit code of that code', async t => {
  const error = new OrchError('ORCH_SESSION_HELD', 'held', { details: { pid: 1 } });
  t.equal(error.code, 'ORCH_SESSION_HELD');
  t.equal(error.exitCode, 3);
  t.same(error.details, { pid: 1 });
  t.ok(isOrchError(error));
  t.ok(hasCode(error, 'ORCH_SESSION_HELD', 'ORCH_USAGE'));
  t.notOk(hasCode(error, 'ORCH_USAGE'));
});

t.test('isOrchError is true for an error from another copy of the module (symbol brand)', async t => {
  const foreign = Object.assign(new Error('x'), { [Symbol.for('orch.error')]: true, code: 'ORCH_USAGE' });
  t.ok(isOrchError(foreign));
  t.notOk(isOrchError(new Error('plain')));
  t.notOk(isOrchError(null));
});

t.test('every error code maps to one of the documented exit codes', async t => {
  for (const exit of Object.values(ERROR_CODES)) t.ok([0, 1, 2, 3].includes(exit));
});
