import t from 'tap';
import { isOrchError } from '../../src/errors.js';
import { lineColumn, parseJson, syntaxErrorOffset } from '../../src/store/parse-json.js';

t.test('valid JSON parses to its value', async t => {
  t.same(parseJson('f.json', '{"a":[1,true,null,"x"]}'), { a: [1, true, null, 'x'] });
});

t.test('a syntax error is ORCH_INVALID_JSON at the right line and column', async t => {
  const cases: [string, string, number, number][] = [
    ['trailing comma in an object', '{\n  "a": 1,\n}\n', 3, 1],
    ['trailing comma in an array', '{\n  "a": [1, 2,]\n}', 2, 14],
    ['missing colon', '{\n  "a" 1\n}', 2, 7],
    ['missing comma', '{"a": 1\n "b": 2}', 2, 2],
    ['bad literal', '{\n  "a": trux\n}', 2, 11],
    ['single-quoted string', "{\n\t'a': 1}", 2, 2],
    ['truncated file', '{\n  "a": [1, 2', 2, 13],
    ['truncated inside a string', '{"a": "abc', 1, 11],
    ['empty file', '', 1, 1],
    ['only whitespace', '  \n  ', 2, 3],
    ['text after the value', '{"a": 1}\n{"b": 2}', 2, 1],
    ['leading zero', '[01]', 1, 3],
    ['control character in a string', '["a\tb"]', 1, 4],
  ];
  for (const [name, text, line, column] of cases) {
    let caught: unknown;
    try {
      parseJson('/s/t.json', text);
    } catch (error) {
      caught = error;
    }
    t.ok(isOrchError(caught), `${name}: an OrchError`);
    t.match(caught, { code: 'ORCH_INVALID_JSON', details: { file: '/s/t.json', line, column } }, name);
    t.match((caught as Error).message, `/s/t.json:${line}:${column}: invalid JSON: `, `${name}: message names the place`);
    t.notMatch((caught as Error).message, /is not valid JSON|at position/, `${name}: no V8 snippet or offset in the message`);
  }
});

t.test('the fallback scanner finds the same offset as V8 wherever V8 reports one', async t => {
  const texts = [
    '{"a":1,}', '{"a" 1}', '{"a":1}x', '{"a":01}', '{a:1}', '{"a":1 "b":2}', '[1 2]', '{"a":"\\x"}',
    '"abc', '{"a":"b\nc"}', '[1, {"b": [true, false, null, -1.5e3]}, "\\u00e9"] ,', '{"a": {"b": 1,}}',
  ];
  for (const text of texts) {
    let message = '';
    try {
      JSON.parse(text);
    } catch (error) {
      message = (error as Error).message;
    }
    const position = /at position (\d+)/.exec(message);
    if (position === null) {
      t.fail(`V8 gave no position for ${JSON.stringify(text)}: ${message}`);
      continue;
    }
    t.equal(syntaxErrorOffset(text), Number(position[1]), JSON.stringify(text));
  }
  t.equal(syntaxErrorOffset('{"a":[1,{"b":null}],"c":"\\u00e9"}'), 33, 'valid JSON: the end');
  t.equal(syntaxErrorOffset('['.repeat(100_000)), 100_000, 'deep nesting does not overflow the stack into a crash');
});

t.test('lineColumn counts lines and columns from 1', async t => {
  t.same(lineColumn('ab\ncd', 0), { line: 1, column: 1 });
  t.same(lineColumn('ab\ncd', 4), { line: 2, column: 2 });
  t.same(lineColumn('ab\r\ncd', 4), { line: 2, column: 1 });
  t.same(lineColumn('ab', 2), { line: 1, column: 3 });
});
