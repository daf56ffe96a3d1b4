import t from 'tap';
import { isOrchError } from '../../src/errors.js';
import { findDuplicateKey, keyTokenBound, lineColumn, parseJson, parsedKeyCount, syntaxErrorOffset } from '../../src/store/parse-json.js';

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

/** The OrchError parseJson throws for `text`, or undefined if it parses. */
function refusal(text: string): (Error & { code?: string; details?: Record<string, unknown>; hint?: string }) | undefined {
  try {
    parseJson('/s/t.json', text);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

t.test('a duplicate key is ORCH_INVALID_JSON at the line and column of its second occurrence, naming the key', async t => {
  const caught = refusal('{\n  "goal": "a",\n  "workflow": "quick",\n  "goal": "b"\n}\n');
  t.ok(isOrchError(caught), 'an OrchError');
  t.match(caught, { code: 'ORCH_INVALID_JSON', details: { file: '/s/t.json', line: 4, column: 3, key: 'goal', first: { line: 2, column: 3 } } });
  t.equal(caught?.message, '/s/t.json:4:3: invalid JSON: duplicate key "goal" (first at line 2, column 3)');
  t.match(caught?.hint, /^remove one of the two "goal" keys/);
});

t.test('duplicates are found in nested objects, in arrays of objects, spelled with escapes, and as __proto__', async t => {
  const cases: [string, string, string, number, number][] = [
    ['one line', '{"goal":"a","goal":"b"}', 'goal', 1, 13],
    ['nested object', '{"env":{"A":"1",\n"B":"2", "A":"3"}}', 'A', 2, 10],
    ['object in an array', '[{"x":1},{"x":1,"y":2,"x":3}]', 'x', 1, 23],
    ['the same key spelled with an escape', '{"goal":"a","\\u0067oal":"b"}', 'goal', 1, 13],
    ['space before the colon', '{"a" : 1, "a"\n\t: 2}', 'a', 1, 11],
    ['__proto__ twice', '{"__proto__":{"a":1},"__proto__":{"b":2}}', '__proto__', 1, 22],
    ['__proto__ twice, deep', '{"env":{"__proto__":"x","__proto__":"y"}}', '__proto__', 1, 25],
    ['a key with a quote and a colon in it', '{"a\\":":1,"a\\":":2}', 'a":', 1, 11],
    ['after a string value holding \\": (the cheap count errs high)', '{"s":"x\\": y","k":1,"k":2}', 'k', 1, 21],
    ['an empty key', '{"":1,"":2}', '', 1, 7],
    ['unicode keys', '{"é":1,"漢":2,"é":3}', 'é', 1, 14],
  ];
  for (const [name, text, key, line, column] of cases) {
    t.match(refusal(text), { code: 'ORCH_INVALID_JSON', details: { key, line, column } }, name);
  }
});

t.test('the same key in different objects, keys that only look alike, and colons in strings are accepted', async t => {
  const texts = [
    '{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}',
    '{"a":1,"A":2,"a ":3,"\\u00e9":4,"e\\u0301":5}',
    '{"goal":"a: b","x":"\\":","t":"10:30:01","u":"\\"  :"}',
    '{"__proto__":{"polluted":true},"proto":1}',
    '"a\\":"',
    '[]',
    '{}',
  ];
  for (const text of texts) t.same(parseJson('f.json', text), JSON.parse(text), text);
  const proto = parseJson('f.json', '{"__proto__":{"polluted":true}}') as Record<string, unknown>;
  t.ok(Object.hasOwn(proto, '__proto__'), '__proto__ stays an own key');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
});

t.test('with several duplicates, the first one in text order is named', async t => {
  t.match(refusal('{"a":{"b":1,"b":2},"a":3}'), { details: { key: 'b', line: 1, column: 13 } });
});

t.test('the cheap counts agree with the exact scan on random documents', async t => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const keys = ['a', 'b', 'c', '__proto__', 'a:', 'b"', 'é', ''];
  const make = (depth: number): string => {
    const r = random();
    if (depth > 3 || r < 0.3) return JSON.stringify(['x', 1, 'v":', null, 'a": 1'][Math.floor(random() * 5)]);
    if (r < 0.5) return `[${Array.from({ length: Math.floor(random() * 3) }, () => make(depth + 1)).join(',')}]`;
    const members = Array.from({ length: Math.floor(random() * 4) }, () => `${JSON.stringify(keys[Math.floor(random() * keys.length)])}${random() < 0.2 ? ' ' : ''}:${make(depth + 1)}`);
    return `{${members.join(',')}}`;
  };
  const wrong: string[] = [];
  let duplicates = 0;
  for (let i = 0; i < 3000; i++) {
    const text = make(0);
    const exact = findDuplicateKey(text) !== undefined;
    const counted = keyTokenBound(text) > parsedKeyCount(JSON.parse(text));
    if (exact) duplicates++;
    if (exact && !counted) wrong.push(`missed by the counts: ${text}`);
    if (exact !== (refusal(text) !== undefined)) wrong.push(`parseJson disagrees: ${text}`);
  }
  t.same(wrong.slice(0, 5), []);
  t.ok(duplicates > 100, `the generator makes duplicates (${duplicates})`);
});

t.test('huge and deep documents are checked without overflowing a stack', async t => {
  t.same(parseJson('f.json', JSON.stringify({ goal: 'g'.repeat(16 * 1024 * 1024) })), { goal: 'g'.repeat(16 * 1024 * 1024) });
  t.same(parseJson('f.json', JSON.stringify({ goal: '\\"'.repeat(1024 * 1024) })), { goal: '\\"'.repeat(1024 * 1024) });
  const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
  t.ok(parseJson('f.json', deep), '10,000 nested objects');
  t.match(refusal(`${'{"a":'.repeat(10_000)}{"b":1,"b":2}${'}'.repeat(10_000)}`), { details: { key: 'b', line: 1, column: 50_008 } });
});
