import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { TEMP_DIR_NAME, createFileExclusive, parseTempFileName, tempFileName, writeFileDurable } from '../../src/store/durable-write.js';
import { parseJson } from '../../src/store/parse-json.js';
import { readStartTime } from '../../src/store/process-identity.js';
import { readTextFile } from '../../src/store/read-file.js';
import { sweepTempFiles } from '../../src/store/temp-sweep.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(repoRoot, 'test/fixtures');
/**
 * tap's process-info hook puts its --import into NODE_OPTIONS of every child spawned from a test, even
 * with an explicit env: ~0.2 s more per start, and its signal-exit listens for SIGXFSZ. Children that
 * need neither are started through `env -u NODE_OPTIONS` (or `unset` in a bash script).
 */
const bareNode = ['-u', 'NODE_OPTIONS', process.execPath] as const;

async function tempLeftovers(dir: string): Promise<string[]> {
  return fs.readdir(join(dir, TEMP_DIR_NAME)).catch(() => []);
}

t.test('a durable write replaces the file with the new bytes and leaves no temp file', async t => {
  const dir = t.testdir({ 'rec.json': '{"old":true}' });
  const target = join(dir, 'rec.json');
  await writeFileDurable(target, '{"new":1}');
  t.equal(await fs.readFile(target, 'utf8'), '{"new":1}');
  const written = await writeFileDurable(target, Buffer.from('{"new":2}'));
  t.equal(await fs.readFile(target, 'utf8'), '{"new":2}');
  const now = await fs.lstat(target);
  t.match(written, { ino: now.ino, size: 9, ctimeMs: now.ctimeMs }, 'resolves to the stats of the file written, as renamed');
  await writeFileDurable(join(dir, 'fresh.json'), '{}');
  t.equal(await fs.readFile(join(dir, 'fresh.json'), 'utf8'), '{}');
  t.same(await tempLeftovers(dir), []);
  t.equal((await fs.stat(target)).nlink, 1);
});

t.test('a temp file name carries its writer: pid and process start time', async t => {
  const name = tempFileName('/x/rec.json');
  t.match(name, /^rec\.json\.\d+-\d+\.\d+\.tmp$/);
  t.same(parseTempFileName(name), { pid: process.pid, start_time: readStartTime(process.pid) });
  t.not(tempFileName('/x/rec.json'), name, 'two temp names of one process differ');
  t.equal(parseTempFileName('rec.json'), undefined);
  t.equal(parseTempFileName('rec.json.12-x.1.tmp'), undefined);
});

t.test('on a full disk the write fails with ENOSPC, the old file is byte-identical and no temp file is left', async t => {
  // Registered before t.testdir(): tap runs this teardown before it removes the testdir, so the
  // tmpfs is unmounted first (rimraf cannot remove a mount point).
  let mounted: string | undefined;
  t.teardown(() => {
    if (mounted !== undefined) spawnSync('umount', [mounted]);
  });
  const disk = join(t.testdir({ disk: {} }), 'disk');
  const mount = process.env.ORCH_TEST_NO_MOUNT === '1' ? { status: 1, stderr: 'disabled' } : spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { encoding: 'utf8' });
  if (mount.status === 0) {
    mounted = disk;
    const target = join(disk, 'rec.json');
    const good = JSON.stringify({ n: 1, note: 'the good version' });
    await writeFileDurable(target, good);
    const failed = await writeFileDurable(target, JSON.stringify({ pad: 'z'.repeat(200_000) })).catch((error: unknown) => error);
    t.match(failed, { code: 'ORCH_WRITE_FAILED', details: { errno: 'ENOSPC', file: target } });
    t.equal(await fs.readFile(target, 'utf8'), good, 'old file intact');
    t.same(await tempLeftovers(disk), [], 'temp file removed');
    await writeFileDurable(target, JSON.stringify({ n: 2 }));
    t.equal(await fs.readFile(target, 'utf8'), '{"n":2}', 'a write that fits succeeds afterwards');
    return;
  }
  // Not allowed to mount here: a user namespace can, for a child.
  const script = `unset NODE_OPTIONS; mount -t tmpfs -o size=64k tmpfs "$1" && exec "$0" --import tsx "$2" "$1"`;
  const child = spawnSync('unshare', ['-Urm', 'bash', '-c', script, process.execPath, disk, join(fixtures, 'store-full-disk.mjs')], {
    encoding: 'utf8',
    cwd: repoRoot,
    timeout: 60_000,
  });
  if (child.status !== 0) {
    const reason = `cannot mount a tmpfs: mount said ${String(mount.stderr).trim()}; unshare -Urm said ${child.stderr.trim() || child.error?.message}`;
    t.pass('full-disk check not run', { skip: reason });
    return;
  }
  t.match(JSON.parse(child.stdout), { failure: { code: 'ORCH_WRITE_FAILED', errno: 'ENOSPC' }, intact: true, leftovers: [] });
});

t.test('a write past the file size limit (ulimit -f) fails with EFBIG and the old file is intact', async t => {
  const dir = t.testdir();
  const target = join(dir, 'rec.json');
  const good = JSON.stringify({ n: 1 });
  await fs.writeFile(target, good);
  for (const variant of ['plain', 'with-lockfile']) {
    // 16 blocks of 1 KiB: the first write() of a 100 KB record is cut short, the next gets EFBIG.
    const script = 'unset NODE_OPTIONS; ulimit -f 16; exec "$0" --import tsx "$1" "$2" 100000 "$3"';
    const child = spawnSync('bash', ['-c', script, process.execPath, join(fixtures, 'store-write-once.mjs'), target, variant], {
      encoding: 'utf8',
      cwd: repoRoot,
        timeout: 60_000,
    });
    t.equal(child.signal, null, `${variant}: not killed`);
    t.equal(child.status, 0, `${variant}: the process survives SIGXFSZ (exit 153 is death by it) ${child.stderr}`);
    t.same(JSON.parse(child.stdout || 'null'), { ok: false, code: 'ORCH_WRITE_FAILED', errno: 'EFBIG' }, variant);
    t.equal(await fs.readFile(target, 'utf8'), good, `${variant}: old file intact`);
    t.same(await tempLeftovers(dir), [], `${variant}: no temp file left`);
  }
});

/** Same formula as test/fixtures/store-rewrite-loop.mjs. */
function recordVersion(n: number): { n: number; pad: string } {
  const unit = `${n}:`;
  return { n, pad: unit.repeat(Math.ceil(3000 / unit.length)).slice(0, 3000) };
}

/**
 * Transpiles `entry` and the relative modules it imports into plain JS under `outDir`, in the same
 * layout: a child can then import the writer without tsx, whose start-up would cost ~0.2 s a child.
 */
async function transpileTree(entry: string, outDir: string): Promise<string> {
  const outPath = (file: string): string => join(outDir, relative(repoRoot, file)).replace(/\.ts$/, '.js');
  const pending = [entry];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const source = await fs.readFile(file, 'utf8');
    for (const match of source.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) pending.push(resolve(dirname(file), `${match[1]}.ts`));
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await fs.mkdir(dirname(outPath(file)), { recursive: true });
    await fs.writeFile(outPath(file), outputText);
  }
  await fs.writeFile(join(outDir, 'package.json'), '{"type":"module"}');
  return outPath(entry);
}

/** Starts a rewriting child, waits for its first complete write, kills it -9 0-20 ms later. */
async function killMidLoop(moduleUrl: string, target: string, base: number): Promise<void> {
  const child = spawn('env', [...bareNode, join(fixtures, 'store-rewrite-loop.mjs'), moduleUrl, target, String(base)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${base} did not report its first write within 30 s`)), 30_000);
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('ready\n')) {
          clearTimeout(timer);
          resolvePromise();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        reject(new Error(`child ${base} exited before its first write: ${stderr}`));
      });
    });
    await delay(Math.random() * 20);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Kills of the rewrite loop per lane (two lanes). 30 a lane in `npm test` keeps the suite short;
 * ORCH_WRITE_KILLS=100 gives the 200 this test was written with (`npm run torture` kills the whole
 * orchestrator a thousand times more).
 */
const KILLS_PER_LANE = Number(process.env.ORCH_WRITE_KILLS ?? 30);

t.test(`a record rewritten in a loop and killed -9 ${2 * KILLS_PER_LANE} times is always one whole version`, async t => {
  const dir = t.testdir({ state: {}, build: {} });
  const state = join(dir, 'state');
  const moduleUrl = pathToFileURL(await transpileTree(join(repoRoot, 'src/store/durable-write.ts'), join(dir, 'build'))).href;
  // Two lanes (one record each) so both cores are used.
  const lane = async (name: string, laneIndex: number): Promise<{ bad: string[]; advanced: number }> => {
    const target = join(state, name);
    const bad: string[] = [];
    let advanced = 0;
    for (let k = 0; k < KILLS_PER_LANE; k++) {
      const base = (laneIndex * 1000 + k + 1) * 1_000_000;
      await killMidLoop(moduleUrl, target, base);
      try {
        const doc = parseJson(target, (await readTextFile(target)).text) as { n: number };
        if (!(doc.n >= base && doc.n < base + 1_000_000)) bad.push(`kill ${k}: version ${doc.n} is not one this child wrote`);
        else if (JSON.stringify(doc) !== JSON.stringify(recordVersion(doc.n))) bad.push(`kill ${k}: version ${doc.n} is torn`);
        else if (doc.n > base) advanced += 1;
      } catch (error) {
        bad.push(`kill ${k}: ${(error as Error).message}`);
      }
    }
    return { bad, advanced };
  };
  const results = await Promise.all([lane('a.json', 0), lane('b.json', 1)]);
  t.same(results.flatMap(r => r.bad), [], 'every kill left a whole version the child wrote');
  t.comment(`kills after the child had moved past its first version: ${results.reduce((sum, r) => sum + r.advanced, 0)} of ${2 * KILLS_PER_LANE}`);
  // Writers killed mid-write leave temp files; all their writers are dead, so the sweeper takes them.
  const leftovers = await tempLeftovers(state);
  t.comment(`temp files left by killed writers: ${leftovers.length}`);
  const swept = await sweepTempFiles([state]);
  t.same(swept.kept, []);
  t.equal(swept.removed.length, leftovers.length);
});

t.test('a symlink, FIFO, directory or hard link where the file should be is refused, and nothing outside changes', async t => {
  const dir = t.testdir({ state: { dir: {} }, outside: { 'secret.json': '{"outside":true}' } });
  const state = join(dir, 'state');
  const outsideFile = join(dir, 'outside', 'secret.json');
  await fs.symlink(outsideFile, join(state, 'link.json'));
  await fs.link(outsideFile, join(state, 'hard.json'));
  const fifo = spawnSync('mkfifo', [join(state, 'fifo.json')]);
  t.equal(fifo.status, 0, 'mkfifo');
  for (const name of ['link.json', 'hard.json', 'fifo.json', 'dir']) {
    const stop = new AbortController();
    const blocked = delay(10_000, undefined, { signal: stop.signal }).then(() => new Error(`writing ${name} blocked for 10 s`));
    await t.rejects(Promise.race([writeFileDurable(join(state, name), '{"written":true}'), blocked]), { code: 'ORCH_NOT_REGULAR_FILE' }, name);
    stop.abort();
    await blocked.catch(() => undefined);
  }
  t.equal(await fs.readFile(outsideFile, 'utf8'), '{"outside":true}');
  t.ok((await fs.lstat(join(state, 'link.json'))).isSymbolicLink(), 'the symlink is still a symlink');
  t.ok((await fs.lstat(join(state, 'fifo.json'))).isFIFO());
  t.same(await tempLeftovers(state), []);
});

t.test('a temp dir that is a symlink is refused: no temp file is created outside the state dir', async t => {
  const dir = t.testdir({ state: { 'rec.json': '{"n":1}' }, outside: {} });
  await fs.symlink(join(dir, 'outside'), join(dir, 'state', TEMP_DIR_NAME));
  await t.rejects(writeFileDurable(join(dir, 'state', 'rec.json'), '{"n":2}'), { code: 'ORCH_NOT_REGULAR_FILE' });
  await t.rejects(createFileExclusive(join(dir, 'state', 'new.json'), '{}'), { code: 'ORCH_NOT_REGULAR_FILE' });
  t.same(await fs.readdir(join(dir, 'outside')), []);
  t.equal(await fs.readFile(join(dir, 'state', 'rec.json'), 'utf8'), '{"n":1}');
});

t.test('a write creates a missing dir, and under a file fails with ORCH_WRITE_FAILED and errno ENOTDIR', async t => {
  const dir = t.testdir({ file: '' });
  await writeFileDurable(join(dir, 'new', 'rec.json'), '{}');
  t.equal(await fs.readFile(join(dir, 'new', 'rec.json'), 'utf8'), '{}');
  await t.rejects(writeFileDurable(join(dir, 'file', 'rec.json'), '{}'), { code: 'ORCH_WRITE_FAILED', details: { errno: 'ENOTDIR' } });
});

t.test('createFileExclusive creates a file once, never replaces one, and leaves it with one link', async t => {
  const dir = t.testdir();
  const target = join(dir, 'd1.json');
  t.equal(await createFileExclusive(target, '{"first":true}'), true);
  t.equal(await createFileExclusive(target, '{"second":true}'), false);
  t.equal(await fs.readFile(target, 'utf8'), '{"first":true}');
  t.equal((await fs.stat(target)).nlink, 1);
  t.same(await tempLeftovers(dir), []);
  await fs.symlink(join(dir, 'elsewhere.json'), join(dir, 'd2.json'));
  t.equal(await createFileExclusive(join(dir, 'd2.json'), '{}'), false, 'a dangling symlink is not written through');
  await t.rejects(fs.stat(join(dir, 'elsewhere.json')), { code: 'ENOENT' });
});

t.test('a temp dir checked by an earlier write and then swapped for a symlink is still refused', async t => {
  const dir = t.testdir({ state: {}, outside: {} });
  const state = join(dir, 'state');
  await writeFileDurable(join(state, 'rec.json'), '{"n":1}'); // the temp dir is checked (and remembered)
  await fs.rm(join(state, TEMP_DIR_NAME), { recursive: true });
  await fs.symlink(join(dir, 'outside'), join(state, TEMP_DIR_NAME));
  await t.rejects(writeFileDurable(join(state, 'rec.json'), '{"n":2}'), { code: 'ORCH_NOT_REGULAR_FILE' });
  await t.rejects(createFileExclusive(join(state, 'new.json'), '{}'), { code: 'ORCH_NOT_REGULAR_FILE' });
  t.same(await fs.readdir(join(dir, 'outside')), [], 'no temp file outside the state dir');
  t.equal(await fs.readFile(join(state, 'rec.json'), 'utf8'), '{"n":1}');
  // Put back as a real directory (a new one): written through again.
  await fs.unlink(join(state, TEMP_DIR_NAME));
  await writeFileDurable(join(state, 'rec.json'), '{"n":3}');
  t.equal(await fs.readFile(join(state, 'rec.json'), 'utf8'), '{"n":3}');
  await fs.rm(join(state, TEMP_DIR_NAME), { recursive: true });
  await writeFileDurable(join(state, 'rec.json'), '{"n":4}');
  t.equal(await fs.readFile(join(state, 'rec.json'), 'utf8'), '{"n":4}', 'a removed temp dir is created again');
  t.same(await tempLeftovers(state), []);
});
