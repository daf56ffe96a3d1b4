import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fs, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop, setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { MAX_FILE_BYTES, invalidUtf8Offset, readLinesSync, readTextFile, readTextFileSync } from '../../src/store/read-file.js';
import { waitFor } from '../fixtures/wait-for.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const READ_FILE_MODULE = new URL('../../src/store/read-file.ts', import.meta.url).href;

/** Version n of the file test/fixtures/read-rewrite.mjs and read-swap.mjs write (the same formula). */
function readRewriteVersion(n: number): string {
  const unit = `${n}:`;
  return JSON.stringify({ n, pad: unit.repeat(Math.ceil(3000 / unit.length)).slice(0, 3000) });
}

/** Starts a fixture, killed in teardown; resolves once it printed "ready". */
async function startReady(t: Test, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(`${args.at(-3) ?? ''} ${args.at(-2) ?? ''} to print "ready"`, () => out.includes('ready') || child.exitCode !== null, 30_000);
  return child;
}

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

t.test('readTextFileSync reads the same content and throws the same errors, synchronously', async t => {
  const dir = t.testdir({ 'a.json': '{"a":1}', 'big.json': 'x'.repeat(101) });
  const read = readTextFileSync(join(dir, 'a.json'));
  t.same({ text: read.text, bytes: read.bytes }, { text: '{"a":1}', bytes: Buffer.from('{"a":1}') });
  t.equal(read.stats.ino, statSync(join(dir, 'a.json')).ino, 'with the stat of the file read');
  t.throws(() => readTextFileSync(join(dir, 'none.json')), { code: 'ORCH_NOT_FOUND' });
  t.throws(() => readTextFileSync(join(dir, 'big.json'), { maxBytes: 100 }), { code: 'ORCH_FILE_TOO_LARGE' });
  t.throws(() => readTextFileSync(dir), { code: 'ORCH_NOT_REGULAR_FILE' });
});

t.test('a sparse 10 GB file is refused by the size cap before anything is read', async t => {
  const dir = t.testdir();
  const file = join(dir, 'sparse.json');
  writeFileSync(file, '{"goal":"');
  truncateSync(file, 10 * 1024 ** 3);
  await t.rejects(readTextFile(file), { code: 'ORCH_FILE_TOO_LARGE', details: { size: 10 * 1024 ** 3, max: MAX_FILE_BYTES } });
});

t.test('a file replaced by rename 2,000 times while it is read in a loop: every read is one whole version', async t => {
  const dir = t.testdir();
  const file = join(dir, 'record.json');
  writeFileSync(file, readRewriteVersion(0));
  const writer = spawn(process.execPath, [fixture('read-rewrite.mjs'), file, '2000'], { stdio: ['ignore', 'ignore', 'inherit'] });
  t.teardown(() => {
    if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
  });
  const exited = new Promise<number | null>(resolve => writer.once('exit', code => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const failures: string[] = [];
  const seen = new Set<number>();
  let reads = 0;
  // Until the writer has exited, then once more: that last read must be its last version.
  for (let last = false; ; last = done) {
    try {
      const { text } = await readTextFile(file);
      const n = (JSON.parse(text) as { n: number }).n;
      if (text === readRewriteVersion(n)) seen.add(n);
      else failures.push(`read ${reads}: not a whole version: ${text.slice(0, 60)}`);
    } catch (error) {
      failures.push(`read ${reads}: ${(error as Error).message}`);
    }
    reads += 1;
    if (last) break;
    await yieldToLoop(); // the reads are synchronous inside: let the writer's exit be seen
  }
  t.equal(await exited, 0, 'the writer wrote its 2,000 versions');
  t.same(failures.slice(0, 10), [], `no read failed (${failures.length} of ${reads} did)`);
  t.ok(seen.has(2000), 'the read after the writer ended saw its last version');
  t.comment(`${reads} reads saw ${seen.size} distinct versions`);
});

t.test('a path swapped among a file, a FIFO and a symlink by rename: reads never block, each reads a whole version or is refused', async t => {
  const dir = t.testdir({ outside: { 'secret.json': '{"outside":true}' } });
  const file = join(dir, 'record.json');
  const swapper = await startReady(t, [fixture('read-swap.mjs'), file, join(dir, 'outside', 'secret.json')]);
  // The reader runs in its own process: a blocked open() would block the whole process, timers too.
  const reader = spawn(process.execPath, ['--import', 'tsx', fixture('read-loop.mjs'), READ_FILE_MODULE, file, '20000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (reader.exitCode === null && reader.signalCode === null) reader.kill('SIGKILL');
  });
  let out = '';
  reader.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the reader did not finish its 20,000 reads within 60 s: a read blocked (a FIFO opened without O_NONBLOCK?)')), 60_000);
    reader.once('exit', status => {
      clearTimeout(timer);
      resolve(status);
    });
  });
  swapper.kill('SIGKILL'); // before the test dir goes
  await new Promise(resolve => (swapper.exitCode === null && swapper.signalCode === null ? swapper.once('exit', resolve) : resolve(undefined)));
  t.equal(code, 0, 'the reader ended');
  const summary = JSON.parse(out) as { whole: number; refused: number; other: string[] };
  t.same(summary.other, [], 'every read was a whole version or a refusal as not a regular file');
  t.equal(summary.whole + summary.refused, 20_000);
  t.comment(`${summary.whole} whole reads, ${summary.refused} refusals`);
  t.equal(await fs.readFile(join(dir, 'outside', 'secret.json'), 'utf8'), '{"outside":true}', 'the symlink target is unchanged');
});

t.test('readLinesSync: every line, those cut between two chunks of the read and multibyte characters included, and the same refusals', async t => {
  const dir = t.testdir({ 'big.json': 'x'.repeat(101) });
  // Lines of 1,000 bytes with a two-byte character at the end: some fall across the 1 MiB chunks of the read.
  const lines = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(6, '0')}${'a'.repeat(991)}é`);
  const file = join(dir, 'lines.txt');
  writeFileSync(file, lines.join('\n'));
  t.same([...readLinesSync(file)], lines, 'no newline at the end');
  writeFileSync(file, `${lines.join('\n')}\n`);
  t.same([...readLinesSync(file)], lines, 'a newline at the end');
  writeFileSync(file, '\n\na\n');
  t.same([...readLinesSync(file)], ['', '', 'a'], 'empty lines');
  t.throws(() => [...readLinesSync(join(dir, 'big.json'), { maxBytes: 100 })], { code: 'ORCH_FILE_TOO_LARGE' });
  const sparse = join(dir, 'sparse.txt');
  writeFileSync(sparse, 'a\n');
  truncateSync(sparse, 10 * 1024 ** 3);
  t.throws(() => readLinesSync(sparse).next(), { code: 'ORCH_FILE_TOO_LARGE', details: { size: 10 * 1024 ** 3 } }, 'a sparse 10 GB file refused by its size, before any read');
  t.throws(() => [...readLinesSync(join(dir, 'none.json'))], { code: 'ORCH_NOT_FOUND' });
  t.throws(() => [...readLinesSync(dir)], { code: 'ORCH_NOT_REGULAR_FILE' });
  await fs.symlink(file, join(dir, 'link.txt'));
  t.throws(() => [...readLinesSync(join(dir, 'link.txt'))], { code: 'ORCH_NOT_REGULAR_FILE' });
});

t.test('readLinesSync closes the file when its caller stops early', async t => {
  const file = join(t.testdir(), 'lines.txt');
  writeFileSync(file, 'a\nb\nc\n');
  const open = (): number => readdirSync('/proc/self/fd').length;
  const before = open();
  for (const line of readLinesSync(file)) if (line === 'a') break;
  const lines = readLinesSync(file);
  lines.next();
  t.equal(open(), before + 1, 'open while its lines are read');
  lines.return(undefined);
  t.equal(open(), before, 'closed');
});
