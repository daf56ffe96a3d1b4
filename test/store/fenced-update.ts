import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { WorkerRecord } from '../../src/generated/types.js';
import { createDocument, FENCED_KINDS, updateDocument } from '../../src/store/fenced-update.js';
import { schemaRef } from '../../src/schema/validators.js';

const ROOT = resolve(import.meta.dirname, '../..');
const INCREMENT = join(ROOT, 'test/fixtures/fenced-increment.mjs');

function worker(overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return { version: 1, rev: 1, epoch: 1, name: 'w1', status: 'idle', updated_at: '2025-12-10T10:30:00.000Z', last_error: '0', ...overrides };
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

function session(epoch: number): Record<string, unknown> {
  const owner = { pid: 1, start_time: 1, boot_id: 'b', host: 'h' };
  const at = '2025-12-10T10:30:00.000Z';
  return { version: 1, rev: epoch, epoch, run_id: 'r', status: 'running', owner, started_at: at, heartbeat_at: at, lease_expires_at: at };
}

t.test('four processes doing 250 fenced increments each of one record lose no update', async t => {
  const dir = t.testdir();
  const file = join(dir, 'state/workers/w1.json');
  writeJson(file, worker());
  const children: { child: ChildProcess; lines: string[]; wait: (line: string) => Promise<void> }[] = [];
  for (let i = 0; i < 4; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', INCREMENT, file, '250', '1'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const lines: string[] = [];
    const waiters: { line: string; done: () => void }[] = [];
    createInterface({ input: child.stdout! }).on('line', line => {
      lines.push(line);
      for (const w of waiters.filter(w => w.line === line)) w.done();
    });
    const wait = (line: string) =>
      new Promise<void>((done, fail) => {
        if (lines.includes(line)) return done();
        const timer = setTimeout(() => fail(new Error(`child ${i} did not print "${line}" in 60 s (got ${JSON.stringify(lines)})`)), 60_000);
        waiters.push({ line, done: () => (clearTimeout(timer), done()) });
        child.once('exit', () => setTimeout(() => fail(new Error(`child ${i} exited before "${line}": ${JSON.stringify(lines)}`)), 50));
      });
    children.push({ child, lines, wait });
  }
  await Promise.all(children.map(c => c.wait('ready')));
  for (const c of children) c.child.stdin!.write('go\n');
  await Promise.all(children.map(c => c.wait('done')));
  await Promise.all(children.map(c => (c.child.exitCode === null ? once(c.child, 'exit') : undefined)));
  t.same(children.map(c => c.child.exitCode), [0, 0, 0, 0], 'every writer exited cleanly');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as WorkerRecord;
  t.equal(doc.last_error, '1000', 'every increment counted');
  t.equal(doc.rev, 1001, 'rev raised by every write');
  t.equal(doc.epoch, 1);
  t.notOk(readdirSync(join(dir, 'state/workers')).some(name => name.endsWith('.lock')), 'no lock left behind');
});

t.test('a write stamps rev, epoch, version and $schema, and writes 2-space JSON with a newline', async t => {
  const dir = t.testdir();
  const stateDir = join(dir, '.isollm');
  const file = join(stateDir, 'state/workers/w1.json');
  writeJson(file, worker({ rev: 7, epoch: 2 }));
  const written = await updateDocument('worker', file, current => ({ ...current!, status: 'busy' }), { fence: { epoch: 3 }, stateDir });
  t.match(written, { rev: 8, epoch: 3, version: 1, status: 'busy', $schema: '../../schemas/worker.schema.json' });
  const text = readFileSync(file, 'utf8');
  t.equal(text, `${JSON.stringify(written, null, 2)}\n`);
  t.notOk(readdirSync(join(stateDir, 'state/workers')).includes('w1.json.lock'), 'lock released');
});

t.test('a new document starts at rev 1, in a folder created for it', async t => {
  const dir = t.testdir();
  const file = join(dir, 'new/sub/w2.json');
  const written = await updateDocument('worker', file, current => (current === undefined ? { name: 'w2', status: 'idle', updated_at: '2025-12-10T10:30:00.000Z' } : undefined), {
    fence: { epoch: 1 },
  });
  t.match(written, { rev: 1, epoch: 1, name: 'w2' });
  t.same(JSON.parse(readFileSync(file, 'utf8')), written);
});

t.test('mutate returning undefined writes nothing', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  writeJson(file, worker());
  const before = readFileSync(file, 'utf8');
  const result = await updateDocument('worker', file, () => undefined, { fence: { epoch: 1 } });
  t.equal(result, undefined);
  t.equal(readFileSync(file, 'utf8'), before);
});

t.test('a writer with an older epoch than the record is fenced and the file is unchanged', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  writeJson(file, worker({ epoch: 5 }));
  const before = readFileSync(file, 'utf8');
  let called = false;
  await t.rejects(
    updateDocument('worker', file, current => ((called = true), { ...current!, status: 'busy' }), { fence: { epoch: 4 } }),
    { code: 'ORCH_EPOCH_FENCED', details: { epoch: 4, found: 5 } },
  );
  t.notOk(called, 'mutate is not even asked');
  t.equal(readFileSync(file, 'utf8'), before);
});

t.test('a writer whose session moved to a newer epoch is fenced even on a record the new session has not touched', async t => {
  const dir = t.testdir();
  const file = join(dir, 'state/tasks/w1.json');
  const sessionPath = join(dir, 'state/session.json');
  writeJson(file, worker({ epoch: 1 }));
  writeJson(sessionPath, session(2));
  const before = readFileSync(file, 'utf8');
  await t.rejects(updateDocument('worker', file, current => ({ ...current!, status: 'busy' }), { fence: { epoch: 1, sessionPath } }), {
    code: 'ORCH_EPOCH_FENCED',
    details: { epoch: 1, found: 2 },
  });
  t.equal(readFileSync(file, 'utf8'), before);
  const ok = await updateDocument('worker', file, current => ({ ...current!, status: 'busy' }), { fence: { epoch: 2, sessionPath } });
  t.match(ok, { epoch: 2, rev: 2 }, 'the current session writes');
});

t.test('expectRev that differs from the file is a rev conflict naming both revs', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  writeJson(file, worker({ rev: 4 }));
  const before = readFileSync(file, 'utf8');
  await t.rejects(updateDocument('worker', file, current => current, { fence: { epoch: 1 }, expectRev: 3 }), {
    code: 'ORCH_REV_CONFLICT',
    details: { expected: 3, found: 4 },
  });
  t.equal(readFileSync(file, 'utf8'), before);
  t.match(await updateDocument('worker', file, current => current, { fence: { epoch: 1 }, expectRev: 4 }), { rev: 5 });
});

t.test('an invalid document from mutate is never written', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  writeJson(file, worker());
  const before = readFileSync(file, 'utf8');
  await t.rejects(updateDocument('worker', file, current => ({ ...current!, status: 'napping' as 'idle' }), { fence: { epoch: 1 } }), {
    code: 'ORCH_SCHEMA_INVALID',
  });
  t.equal(readFileSync(file, 'utf8'), before);
  const fresh = join(dir, 'w9.json');
  await t.rejects(updateDocument('worker', fresh, () => ({ name: '.bad', status: 'idle', updated_at: 'yesterday' }), { fence: { epoch: 1 } }), {
    code: 'ORCH_SCHEMA_INVALID',
  });
  t.throws(() => statSync(fresh), { code: 'ENOENT' }, 'a new file is not created');
});

t.test('a lock lost while mutating never crashes the process and nothing is written', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  writeJson(file, worker());
  const before = readFileSync(file, 'utf8');
  await t.rejects(
    updateDocument(
      'worker',
      file,
      current => {
        rmSync(`${file}.lock`, { recursive: true }); // someone removed our lock (or took it over)
        return { ...current!, status: 'busy' };
      },
      { fence: { epoch: 1 } },
    ),
    { code: 'ORCH_LOCK_COMPROMISED' },
  );
  t.equal(readFileSync(file, 'utf8'), before);
  const past = new Date(Date.now() - 60_000);
  await t.rejects(
    updateDocument(
      'worker',
      file,
      current => {
        utimesSync(`${file}.lock`, past, past); // we stalled past the stale time: a contender may take it
        return { ...current!, status: 'busy' };
      },
      { fence: { epoch: 1 } },
    ),
    { code: 'ORCH_LOCK_COMPROMISED' },
  );
  t.equal(readFileSync(file, 'utf8'), before);
});

t.test('createDocument refuses a file that exists', async t => {
  const dir = t.testdir();
  const file = join(dir, 'w1.json');
  const made = await createDocument('worker', file, { name: 'w1', status: 'idle', updated_at: '2025-12-10T10:30:00.000Z' }, { fence: { epoch: 2 } });
  t.match(made, { rev: 1, epoch: 2 });
  await t.rejects(createDocument('worker', file, { name: 'w1', status: 'busy', updated_at: '2025-12-10T10:30:00.000Z' }, { fence: { epoch: 2 } }), {
    code: 'ORCH_REV_CONFLICT',
    details: { expected: 0, found: 1 },
  });
});

t.test('a decision gets a rev but no epoch, and its epoch is not checked', async t => {
  const dir = t.testdir();
  const file = join(dir, 'inbox/d1.json');
  const decision = { decision_id: 'd1', task_id: 'T-1', action: 'approve' as const, against_rev: 3, created_at: '2025-12-10T10:30:00.000Z', actor: 'cli' as const };
  const written = await updateDocument('decision', file, () => decision, { fence: { epoch: 9 } });
  t.same(written, { ...decision, version: 1, rev: 1 });
  t.match(await updateDocument('decision', file, current => current, { fence: { epoch: 0 } }), { rev: 2 });
});

t.test('FENCED_KINDS says which schemas carry rev and epoch', async t => {
  const schemaFile = { record: 'task-record', worker: 'worker', session: 'session', decision: 'inbox-decision' } as const;
  for (const [kind, { epoch }] of Object.entries(FENCED_KINDS)) {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', `${schemaFile[kind as keyof typeof schemaFile]}.schema.json`), 'utf8')) as {
      required: string[];
      properties: Record<string, unknown>;
    };
    t.ok(schema.required.includes('rev'), `${kind} requires rev`);
    t.equal('epoch' in schema.properties, epoch, `${kind} ${epoch ? 'has' : 'has no'} epoch`);
  }
});

t.test('schemaRef points from the file to the state dir copy of its schema', async t => {
  t.equal(schemaRef('record', '/p/.isollm/state/tasks/x.json', '/p/.isollm'), '../../schemas/task-record.schema.json');
  t.equal(schemaRef('worker', '/p/.isollm/state/workers/w.json', '/p/.isollm'), '../../schemas/worker.schema.json');
  t.equal(schemaRef('session', '/p/.isollm/state/session.json', '/p/.isollm'), '../schemas/session.schema.json');
  t.equal(schemaRef('decision', '/p/.isollm/inbox/d.json', '/p/.isollm'), '../schemas/inbox-decision.schema.json');
});
