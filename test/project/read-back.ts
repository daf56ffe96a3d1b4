import t from 'tap';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBack, readLastLines, FIRST_CHUNK_BYTES } from '../../src/project/read-back.js';

t.test('the last lines of a file, with or without a final newline, and of empty or missing files', async t => {
  const dir = t.testdir({ lines: 'a\nb\nc\nd\n', open: 'a\nb\nc', empty: '' });
  t.same(await readLastLines(join(dir, 'lines'), 2), { text: 'c\nd\n', size: 8, whole: false });
  t.same(await readLastLines(join(dir, 'lines'), 10), { text: 'a\nb\nc\nd\n', size: 8, whole: true });
  t.same(await readLastLines(join(dir, 'open'), 1), { text: 'c', size: 5, whole: false });
  t.same(await readLastLines(join(dir, 'empty'), 3), { text: '', size: 0, whole: true });
  t.equal(await readLastLines(join(dir, 'missing'), 3), undefined);
});

t.test('reading back past the first chunk keeps whole lines and whole characters', async t => {
  const dir = t.testdir();
  const line = (i: number): string => `${i} ${'é'.repeat(40)} ✅\n`;
  const all = Array.from({ length: 3000 }, (_, i) => line(i)).join('');
  t.ok(Buffer.byteLength(all) > 2 * FIRST_CHUNK_BYTES, 'the file spans several chunks');
  writeFileSync(join(dir, 'big'), all);
  const tail = await readLastLines(join(dir, 'big'), 2500);
  t.equal(tail?.text, Array.from({ length: 2500 }, (_, i) => line(i + 500)).join(''));
  const capped = await readBack(join(dir, 'big'), { enough: () => false, maxBytes: 1000 });
  t.equal(capped?.whole, false);
  t.ok(capped?.text.split('\n').slice(0, -1).every(l => /^\d+ é{40} ✅$/.test(l)), 'a cut never splits a line or a character');
});

t.test('a symlink is refused, not followed: the file itself, or any folder under `within`', async t => {
  const dir = t.testdir({ real: 'x\n', state: { runs: {} }, outside: { 'stdout.log': 'secret\n' } });
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  await t.rejects(readLastLines(join(dir, 'link'), 1), { code: 'ORCH_NOT_REGULAR_FILE', message: /it is a symlink/ });
  symlinkSync(join(dir, 'outside'), join(dir, 'state/runs/attempt'));
  await t.rejects(readLastLines(join(dir, 'state/runs/attempt/stdout.log'), 1, { within: join(dir, 'state') }), {
    code: 'ORCH_NOT_REGULAR_FILE',
    details: { file: join(dir, 'state/runs/attempt') },
  });
});
