import t from 'tap';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_FILE_BYTES, invalidUtf8Offset, readTextFile } from '../../src/store/read-file.js';

/** Rejects if `promise` has not settled within 10 s: a read must never block (a FIFO would). */
async function promptly<T>(promise: Promise<T>, what: string): Promise<T> {
  const stop = new AbortController();
  const blocked = delay(10_000, undefined, { signal: stop.signal }).then(() => {
    throw new Error(`${what} blocked for 10 s`);
  });
  try {
    return await Promise.race([promise, blocked]);
  } finally {
    stop.abort();
    await blocked.catch(() => undefined);
  }
}

t.test('a regular file is read as text, with its exact bytes', async t => {
  const dir = t.testdir({ 'a.json': '{"é":1}\n' });
  const { text, bytes } = await readTextFile(join(dir, 'a.json'));
  t.equal(text, '{"é":1}\n');
  t.same(bytes, Buffer.from('{"é":1}\n'));
  t.equal((await readTextFile(join(dir, 'a.json'), { maxBytes: 9 })).text, '{"é":1}\n', 'a file of exactly maxBytes is read');
  t.equal(MAX_FILE_BYTES, 16 * 1024 * 1024);
});

t.test('an empty file reads as empty text', async t => {
  const dir = t.testdir({ 'e.json': '' });
  t.equal((await readTextFile(join(dir, 'e.json'))).text, '');
});

t.test('a file larger than the cap is refused with ORCH_FILE_TOO_LARGE', async t => {
  const dir = t.testdir({ 'big.json': 'x'.repeat(101) });
  await t.rejects(readTextFile(join(dir, 'big.json'), { maxBytes: 100 }), {
    code: 'ORCH_FILE_TOO_LARGE',
    details: { size: 101, max: 100 },
  });
});

t.test('a leading BOM is accepted and dropped from the text, kept in the bytes', async t => {
  const dir = t.testdir();
  await fs.writeFile(join(dir, 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]));
  const { text, bytes } = await readTextFile(join(dir, 'bom.json'));
  t.equal(text, '{"a":1}');
  t.equal(bytes.length, 10);
});

t.test('invalid UTF-8 is refused with ORCH_INVALID_UTF8 and the offset of the first bad sequence', async t => {
  const dir = t.testdir();
  const cases: [string, number[], number][] = [
    ['bad continuation', [0x7b, 0x22, 0xc3, 0x28], 2],
    ['lone continuation byte', [0x61, 0x62, 0x80], 2],
    ['overlong encoding', [0x61, 0xc0, 0x80], 1],
    ['surrogate', [0x61, 0x62, 0x63, 0xed, 0xa0, 0x80], 3],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['truncated at the end', [0x22, 0xe2, 0x82], 1],
    ['latin-1 é after valid multibyte', [0xc3, 0xa9, 0x20, 0xe9, 0x20], 3],
  ];
  for (const [name, bytes, offset] of cases) {
    const file = join(dir, `${name.replaceAll(' ', '-')}.json`);
    await fs.writeFile(file, Buffer.from(bytes));
    await t.rejects(readTextFile(file), { code: 'ORCH_INVALID_UTF8', details: { byte: offset, file } }, name);
  }
});

t.test('invalidUtf8Offset agrees with the strict TextDecoder on random bytes', async t => {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const valid = (bytes: Uint8Array): boolean => {
    try {
      decoder.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  const disagreements: string[] = [];
  for (let i = 0; i < 5000; i++) {
    // Mostly high bytes, so multi-byte sequences (valid and not) are common.
    const bytes = Uint8Array.from({ length: 1 + Math.floor(Math.random() * 8) }, () =>
      Math.random() < 0.2 ? Math.floor(Math.random() * 0x80) : 0x80 + Math.floor(Math.random() * 0x80));
    const offset = invalidUtf8Offset(bytes);
    if ((offset === undefined) !== valid(bytes)) disagreements.push(Buffer.from(bytes).toString('hex'));
    // The prefix before the reported offset is itself valid UTF-8.
    else if (offset !== undefined && !valid(bytes.subarray(0, offset))) disagreements.push(`prefix ${Buffer.from(bytes).toString('hex')}`);
  }
  t.same(disagreements, []);
  t.equal(invalidUtf8Offset(Buffer.from('plain ascii, é, 漢, 😀')), undefined);
});

t.test('a missing file, or a path under a file, is ORCH_NOT_FOUND', async t => {
  const dir = t.testdir({ file: 'x' });
  await t.rejects(readTextFile(join(dir, 'none.json')), { code: 'ORCH_NOT_FOUND' });
  await t.rejects(readTextFile(join(dir, 'file', 'x.json')), { code: 'ORCH_NOT_FOUND' });
});

t.test('a symlink, FIFO, directory or hard link is refused promptly, and the outside file is unchanged', async t => {
  const dir = t.testdir({ state: { dir: {} }, outside: { 'secret.json': '{"outside":true}' } });
  const state = join(dir, 'state');
  const outsideFile = join(dir, 'outside', 'secret.json');
  await fs.symlink(outsideFile, join(state, 'link.json'));
  await fs.link(outsideFile, join(state, 'hard.json'));
  t.equal(spawnSync('mkfifo', [join(state, 'fifo.json')]).status, 0, 'mkfifo');
  for (const name of ['link.json', 'hard.json', 'fifo.json', 'dir']) {
    await t.rejects(promptly(readTextFile(join(state, name)), `reading ${name}`), { code: 'ORCH_NOT_REGULAR_FILE' }, name);
  }
  t.equal(await fs.readFile(outsideFile, 'utf8'), '{"outside":true}');
});
