import t from 'tap';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readCommandResult, totalTokens } from '../../src/runner/result-file.js';

t.test('an absent result file is no result and no error', async t => {
  const dir = t.testdir({});
  t.same(await readCommandResult(join(dir, 'result.json')), {});
});

t.test('a valid result file is loaded', async t => {
  const result = { outcome: 'approved', reason: 'looks right', model: 'm', cost_usd: 0.01, tokens: { input: 10, output: 5 }, plan: [{ id: 'S1', goal: 'g' }] };
  const dir = t.testdir({ 'result.json': JSON.stringify(result) });
  const read = await readCommandResult(join(dir, 'result.json'));
  t.same(read, { result });
});

t.test('a result file that breaks the schema is an error naming the field, not a throw', async t => {
  const dir = t.testdir({ 'result.json': JSON.stringify({ outcome: 'maybe' }) });
  const read = await readCommandResult(join(dir, 'result.json'));
  t.equal(read.result, undefined);
  t.match(read.error, { code: 'ORCH_SCHEMA_INVALID', message: /outcome/ });
});

t.test('a result file that is not JSON is an error with its position', async t => {
  const dir = t.testdir({ 'result.json': '{"outcome": "done",\n' });
  const read = await readCommandResult(join(dir, 'result.json'));
  t.match(read.error, { code: 'ORCH_INVALID_JSON' });
});

t.test('a result file that is too large or a symlink is refused', async t => {
  const dir = t.testdir({ 'big.json': JSON.stringify({ reason: 'x'.repeat(5000) }), 'real.json': '{}' });
  t.match((await readCommandResult(join(dir, 'big.json'), 1024)).error, { code: 'ORCH_FILE_TOO_LARGE' });
  symlinkSync(join(dir, 'real.json'), join(dir, 'link.json'));
  t.match((await readCommandResult(join(dir, 'link.json'))).error, { code: 'ORCH_NOT_REGULAR_FILE' });
});

t.test('totalTokens reads a number, a total, or input plus output', async t => {
  t.equal(totalTokens(120), 120);
  t.equal(totalTokens({ input: 100, output: 20 }), 120);
  t.equal(totalTokens({ input: 100, output: 20, total: 130 }), 130);
  t.equal(totalTokens({ output: 7 }), 7);
  t.equal(totalTokens({}), undefined);
  t.equal(totalTokens(undefined), undefined);
});
