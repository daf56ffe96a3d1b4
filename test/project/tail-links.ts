// `orch tail` and `orch tail -f` read an attempt's output only from inside the state dir: a symlink
// anywhere on the way (the attempt's folder, the run's folder, the log itself) is refused with exit 2
// and never followed, also when it appears while `tail -f` follows the attempt.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { openInside } from '../../src/store/open-inside.js';
import { makeProject } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';

t.jobs = 1; // real files and processes: one at a time on a 2-core machine

const GATE_AGENT = fileURLToPath(new URL('../fixtures/read-agent-gate.mjs', import.meta.url));
const SWAP_DIR_LINK = fileURLToPath(new URL('../fixtures/swap-dir-link.mjs', import.meta.url));
/** What the outside files hold: it must never reach orch's output. */
const SECRET = 'SECRET-OUTSIDE-THE-STATE-DIR';

const recordOf = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));
const attemptDir = (root: string, id: string): string => join(root, '.isollm', recordOf(root, id).attempts.at(-1)?.artifacts_dir ?? 'no-attempt');

/** A folder outside the project holding an attempt's files, with the secret in them. */
function outsideAttempt(base: string, name = 'outside'): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stdout.log'), `${SECRET}\n`.repeat(2000));
  writeFileSync(join(dir, 'stderr.log'), `${SECRET}\n`);
  return dir;
}

/** A project whose task T1 has run once and printed "inside". */
async function ranProject(t: Test): Promise<{ base: string; root: string }> {
  const base = t.testdir();
  const root = join(base, 'project');
  makeProject(root, {
    workflow: { implement: { command: [process.execPath, '-e', 'console.log("inside"); console.error("inside err")'] } },
    tasks: { T1: { goal: 'print' } },
  });
  const result = await runOnce(root);
  t.same(result.done, ['T1'], 'the task ran');
  t.match(readFileSync(join(attemptDir(root, 'T1'), 'stdout.log'), 'utf8'), 'inside');
  return { base, root };
}

/** `orch tail`, `orch tail -f` and `orch tail --json` refuse, with exit 2, an error naming `link`, and no secret. */
async function assertRefused(t: Test, root: string, link: string, file?: string): Promise<void> {
  // A link below the file is named as such; the file itself, when it is the link, as "it".
  const says = file === undefined ? `${link} is a symlink` : `refusing to read ${file}: it is a symlink`;
  for (const args of [['tail', 'T1'], ['tail', '-f', 'T1']]) {
    const run = await runCli(args, { cwd: root });
    t.equal(run.code, 2, `orch ${args.join(' ')} exits 2 (bad input, not a bug)`);
    t.notMatch(run.stdout + run.stderr, SECRET, `orch ${args.join(' ')} never prints what the link points to`);
    t.match(run.stderr, says, `orch ${args.join(' ')} names the link`);
    t.match(run.stderr, /hint: .*replace the link/, 'and says what to do');
    t.notMatch(run.stderr, 'bug in orch');
  }
  const json = await runCli(['tail', '--json', 'T1'], { cwd: root });
  t.equal(json.code, 2, 'orch tail --json exits 2');
  t.notMatch(json.stdout + json.stderr, SECRET);
  t.match(JSON.parse(json.stderr), { error: { code: 'ORCH_NOT_REGULAR_FILE', message: says, hint: /replace the link/ } });
}

t.test('an attempt folder linked outside the state dir is refused by tail and tail -f, never followed', async t => {
  const { base, root } = await ranProject(t);
  const dir = attemptDir(root, 'T1');
  renameSync(dir, `${dir}.moved`);
  symlinkSync(outsideAttempt(base), dir);
  await assertRefused(t, root, dir);
});

t.test('a link higher up the artifacts path (the run folder) is refused too', async t => {
  const { base, root } = await ranProject(t);
  const runDir = dirname(dirname(attemptDir(root, 'T1')));
  const outside = join(base, 'outside-run');
  outsideAttempt(outside, attemptDir(root, 'T1').slice(runDir.length + 1)); // <task>/<attempt> in the outside run

  renameSync(runDir, `${runDir}.moved`);
  symlinkSync(outside, runDir);
  await assertRefused(t, root, runDir);
});

t.test('a symlinked stdout.log is refused with exit 2, not reported as a bug in orch', async t => {
  const { base, root } = await ranProject(t);
  const log = join(attemptDir(root, 'T1'), 'stdout.log');
  renameSync(log, `${log}.moved`);
  symlinkSync(join(outsideAttempt(base), 'stdout.log'), log);
  await assertRefused(t, root, log, log);
});

t.test('a link put in place while tail -f follows a running attempt stops it with exit 2, the outside file unread', async t => {
  let release = async (): Promise<void> => undefined;
  t.teardown(() => release()); // registered before the test dir exists: runs before tap removes it
  const base = t.testdir();
  const root = join(base, 'project');
  const gate = join(base, 'gate');
  makeProject(root, { workflow: { implement: { command: [process.execPath, GATE_AGENT, gate] } }, tasks: { T1: { goal: 'tick' } } });
  const engine = runOnce(root);
  release = async () => {
    writeFileSync(gate, '');
    await engine.catch(() => undefined);
  };
  const dir = await waitFor('T1 to have a running attempt', () => {
    try {
      const open = recordOf(root, 'T1').attempts.find(a => a.ended_at === undefined);
      return open === undefined ? undefined : join(root, '.isollm', open.artifacts_dir);
    } catch {
      return undefined;
    }
  });

  const child = spawn(process.execPath, [ORCH_BIN, 'tail', '-f', 'T1'], { cwd: root, env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
  await waitFor('tail -f to print tick 3', () => out.includes('tick 3\n'));

  renameSync(dir, `${dir}.moved`);
  symlinkSync(outsideAttempt(base), dir);
  await waitFor('tail -f to exit', () => child.exitCode ?? undefined, 10_000).catch(() => undefined);
  t.equal(child.exitCode, 2, 'tail -f stops with exit 2');
  if (child.exitCode === null) child.kill('SIGKILL');
  await exited;
  t.notMatch(out, SECRET, 'it never printed the outside file');
  t.match(err, `${dir} is a symlink`);
});

t.test('openInside: opens a regular file under the root; refuses a link at any depth; undefined when missing', async t => {
  const base = t.testdir({ root: { a: { b: { 'file.log': 'ok\n' } } }, outside: { 'file.log': `${SECRET}\n` } });
  const root = join(base, 'root');
  const handle = await openInside(root, join(root, 'a/b/file.log'));
  t.ok(handle, 'a plain file opens');
  t.equal((await handle?.readFile('utf8')), 'ok\n');
  await handle?.close();
  t.equal(await openInside(root, join(root, 'a/b/missing.log')), undefined, 'a missing file');
  t.equal(await openInside(root, join(root, 'a/none/file.log')), undefined, 'a missing folder on the way');

  symlinkSync(join(base, 'outside'), join(root, 'a/c'));
  await t.rejects(openInside(root, join(root, 'a/c/file.log')), { code: 'ORCH_NOT_REGULAR_FILE', details: { file: join(root, 'a/c') } });
  symlinkSync(join(base, 'outside/file.log'), join(root, 'a/b/link.log'));
  await t.rejects(openInside(root, join(root, 'a/b/link.log')), { code: 'ORCH_NOT_REGULAR_FILE', details: { file: join(root, 'a/b/link.log') } });
  await t.rejects(openInside(root, join(root, 'a/b')), { code: 'ORCH_NOT_REGULAR_FILE' }, 'a folder is not a file');
  await t.rejects(openInside(root, join(base, 'outside/file.log')), { code: 'ORCH_INTERNAL' }, 'a path outside the root is a caller\'s bug');

  // The root itself may be a link (a state dir kept elsewhere): only what is under it is checked.
  symlinkSync(root, join(base, 'root-link'));
  const viaLink = await openInside(join(base, 'root-link'), join(base, 'root-link/a/b/file.log'));
  t.ok(viaLink);
  await viaLink?.close();
});

t.test('openInside: a folder swapped with a link while it opens is read from inside or refused, never through the link', async t => {
  let stop = async (): Promise<void> => undefined;
  t.teardown(() => stop()); // registered before the test dir exists: runs before tap removes it
  const base = t.testdir({ root: { runs: { attempt: { 'stdout.log': 'inside\n' } } }, outside: { 'stdout.log': `${SECRET}\n` } });
  const root = join(base, 'root');
  const file = join(root, 'runs/attempt/stdout.log');
  const swapper = spawn(process.execPath, [SWAP_DIR_LINK, join(root, 'runs/attempt'), join(base, 'outside')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const gone = new Promise(resolve => swapper.on('close', resolve));
  stop = async () => {
    swapper.kill('SIGKILL');
    await gone;
  };
  let started = '';
  swapper.stdout.on('data', (chunk: Buffer) => (started += chunk.toString()));
  await waitFor('the swapper to start', () => started.includes('ready'));

  const seen = { inside: 0, refused: 0, missing: 0, outside: 0 };
  for (let i = 0; i < 1500; i++) {
    let handle;
    try {
      handle = await openInside(root, file);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ORCH_NOT_REGULAR_FILE') throw error; // the only error is a refusal
      seen.refused += 1;
      continue;
    }
    if (handle === undefined) {
      seen.missing += 1;
      continue;
    }
    const text = await handle.readFile('utf8');
    await handle.close();
    if (text === 'inside\n') seen.inside += 1;
    else seen.outside += 1;
  }
  t.equal(seen.outside, 0, `the file behind the link was never read (${JSON.stringify(seen)})`);
  t.ok(seen.inside > 0 && seen.refused > 0, 'both the real folder and the link were met');
});
