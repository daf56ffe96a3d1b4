import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOutputTail, openCappedFile } from '../../src/runner/output-sink.js';

t.test('the tail keeps the last bytes pushed, across chunks and inside one large chunk', async t => {
  const tail = createOutputTail(10);
  tail.push(Buffer.from('abcdef'));
  tail.push(Buffer.from('ghijkl'));
  t.equal(tail.text(), 'cdefghijkl');
  tail.push(Buffer.from('0123456789XYZ'));
  t.equal(tail.text(), '3456789XYZ');
});

t.test('a capped file keeps exactly the first cap bytes and says it was truncated', async t => {
  const dir = t.testdir({});
  const file = await openCappedFile(join(dir, 'sub', 'out.log'), 8);
  const resume = () => undefined;
  file.write(Buffer.from('12345'), resume);
  t.equal(file.truncated, false);
  file.write(Buffer.from('6789'), resume);
  file.write(Buffer.from('more'), resume);
  await file.close();
  t.equal(readFileSync(join(dir, 'sub', 'out.log'), 'utf8'), '12345678');
  t.equal(file.truncated, true);
  t.equal(file.error, undefined);
});

t.test('an output file that cannot be created is ORCH_WRITE_FAILED', async t => {
  const dir = t.testdir({ blocker: 'a file, not a dir' });
  await t.rejects(openCappedFile(join(dir, 'blocker', 'out.log'), 8), { code: 'ORCH_WRITE_FAILED' });
});

t.test('a file nothing is written to is created empty and closed once, however often close is called', async t => {
  const dir = t.testdir({});
  const path = join(dir, 'quiet', 'stderr.log');
  const file = await openCappedFile(path, 8);
  t.equal(readFileSync(path, 'utf8'), '', 'there from the start, as a command may look for it');
  await file.close();
  await file.close();
  t.equal(file.error, undefined);
  t.equal(file.truncated, false);
  file.write(Buffer.from('late'), () => undefined);
  t.equal(readFileSync(path, 'utf8'), '', 'a write after close lands nowhere');
  t.equal(file.truncated, true, 'and is counted as dropped');
});
