// `orch tail -f ID` on an agent client's attempt: the client's stream-json is rendered for people while
// the attempt writes it, and the follow ends by itself when the attempt ends. The attempt is a real one
// run by `orch --once` in a child; its command replays a stream recorded from the real claude in the
// order and pieces a client writes it, held at a gate file the test opens.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskRecord } from '../../src/generated/types.js';
import { makeProject } from '../fixtures/project.js';
import { ORCH_BIN } from '../fixtures/run-cli.js';
import { isAlive, waitFor } from '../fixtures/wait-for.js';

const TRANSCRIPT = fileURLToPath(new URL('../fixtures/transcripts/claude-code/success.stdout.jsonl', import.meta.url));
const LINES = readFileSync(TRANSCRIPT, 'utf8').split('\n').filter(line => line !== '').map(line => `${line}\n`);
/** The first write of the replay: the init event and the first half of the next (the Write tool call). */
const CUT = Math.floor((LINES[1] ?? '').length / 2);
const FIRST_WRITE = `${LINES[0]}${(LINES[1] ?? '').slice(0, CUT)}`;

// argv: the transcript, the gates' folder, a file for its pid. Writes FIRST_WRITE; when gate "1" exists,
// the rest of the tool call and its result; when gate "2" exists, the rest of the stream a line every
// 150 ms; then exits 0. It gives up after 60 s, so it never outlives a failed test by long.
const REPLAY = `
const fs = require("fs");
const path = require("path");
const [file, gates, pidFile] = process.argv.slice(1);
fs.writeFileSync(pidFile, String(process.pid));
const lines = fs.readFileSync(file, "utf8").split("\\n").filter(line => line !== "").map(line => line + "\\n");
const cut = Math.floor(lines[1].length / 2);
const stages = [[lines[0] + lines[1].slice(0, cut)], [lines[1].slice(cut), lines[2]], lines.slice(3)];
const giveUp = Date.now() + 60000;
const write = (pieces, then) => {
  const piece = pieces.shift();
  if (piece === undefined) return then();
  process.stdout.write(piece);
  setTimeout(() => write(pieces, then), 150);
};
const stage = n => {
  if (n === stages.length) return;
  if (n > 0 && !fs.existsSync(path.join(gates, String(n)))) {
    if (Date.now() > giveUp) process.exit(3);
    return setTimeout(() => stage(n), 20);
  }
  write(stages[n], () => stage(n + 1));
};
stage(0);
`;

interface Child {
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  running(): boolean;
}

/** The built `orch` in a child whose output can be read while it runs; killed at teardown if still running. */
function orch(t: Test, args: string[], cwd: string): Child {
  const child = spawn(process.execPath, [ORCH_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ORCH_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  t.teardown(() => {
    if (running()) child.kill('SIGKILL');
  });
  return { stdout: () => out, stderr: () => err, exited, running };
}

const recordOf = (root: string, id: string): TaskRecord | undefined => {
  try {
    return JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8')) as TaskRecord;
  } catch {
    return undefined; // not written yet
  }
};

t.test('tail -f renders a growing claude stream-json as the attempt writes it (a line in two pieces included) and stops when the attempt ends', async t => {
  // Registered before the test dir exists, so it runs before tap removes the dir: the gates are opened
  // (the replay ends) and the orchestrator is waited for.
  let release = async (): Promise<void> => undefined;
  t.teardown(() => release());
  const base = t.testdir({ gates: {} });
  const gates = join(base, 'gates');
  const open = (n: number): void => writeFileSync(join(gates, String(n)), '');
  const pidFile = join(base, 'agent.pid');
  const root = join(base, 'project');
  mkdirSync(root);
  makeProject(root, {
    workflow: { implement: { command: [process.execPath, '-e', REPLAY, TRANSCRIPT, gates, pidFile], provider: 'claude_code' } },
    tasks: { T1: { goal: 'replay a recorded claude session as it was written' } },
  });
  const engine = orch(t, ['--once'], root);
  release = async () => {
    open(1);
    open(2);
    await Promise.race([engine.exited, new Promise(resolve => setTimeout(resolve, 20_000))]);
  };

  // The attempt runs and has written its first piece: the init event and half of the tool call.
  const stdoutLog = await waitFor('the attempt to be running and its first write in stdout.log', () => {
    const attempt = recordOf(root, 'T1')?.attempts.find(a => a.ended_at === undefined);
    if (attempt === undefined) return undefined;
    const file = join(root, '.isollm', attempt.artifacts_dir, 'stdout.log');
    return existsSync(file) && statSync(file).size === Buffer.byteLength(FIRST_WRITE) ? file : undefined;
  }, 30_000);

  const follow = orch(t, ['tail', '-f', 'T1'], root);
  const raw = orch(t, ['tail', '-f', '--raw', 'T1'], root);
  const header = '==> T1 #1 implement S1 stdout <==\n';
  const init = 'claude 2\\.1\\.197 · claude-sonnet-4-5 · session [0-9a-f-]+\n';
  await waitFor('tail -f to render the init event', () => /claude 2\.1\.197 · /.test(follow.stdout()));
  t.match(follow.stdout(), new RegExp(`^${header}${init}$`), 'only the init event: the half-written tool call waits for the rest of its line');

  // The rest of the tool call and its result are appended while tail -f follows.
  open(1);
  await waitFor('tail -f to render the tool call and its result', () => /↳ File created/.test(follow.stdout()));
  t.ok(follow.running(), 'tail -f keeps following while the attempt runs');
  t.equal(recordOf(root, 'T1')?.attempts[0]?.ended_at, undefined, 'the attempt is still running');
  t.match(follow.stdout(), new RegExp(`^${header}${init}→ Write /\\S+/src/hello\\.ts\n  ↳ File created successfully at: /\\S+/src/hello\\.ts .*\n$`), 'the tool call once, with its file, then its result');

  // The rest of the stream, then the attempt ends.
  open(2);
  const code = await Promise.race([follow.exited, new Promise<'still running'>(resolve => setTimeout(() => resolve('still running'), 30_000))]);
  t.equal(code, 0, `tail -f ends by itself when the attempt ends (stderr: ${follow.stderr()})`);
  const out = follow.stdout();
  t.equal(readFileSync(stdoutLog, 'utf8'), LINES.join(''), 'the attempt wrote the whole recorded stream');
  t.match(out, new RegExp([
    `^${header}${init}→ Write /\\S+/src/hello\\.ts`,
    '  ↳ File created successfully at: /\\S+/src/hello\\.ts .*',
    '→ Write /\\S+/result\\.json',
    '  ↳ File created successfully at: /\\S+/result\\.json .*',
    'I wrote src/hello\\.ts and the result file\\.',
    '',
    '```json',
    '\\{"outcome":"done","reason":"wrote src/hello\\.ts"\\}',
    '```',
    '✔ done · 3 turns · [\\d.]+ s · \\$0\\.0180 · 3000 in / 600 out',
    '==> T1 #1 implement S1: ended: succeeded, exit 0 <==',
    '$',
  ].join('\n')), 'every event rendered once, in order, the cost the client reported, then the end of the attempt');
  t.notMatch(out, /"type":|"message":|"session_id"/, 'no raw JSON, not even a piece of a line');
  t.equal(await raw.exited, 0, `tail -f --raw ends with the attempt too (stderr: ${raw.stderr()})`);
  t.equal(raw.stdout(), `${header}${LINES.join('')}==> T1 #1 implement S1: ended: succeeded, exit 0 <==\n`, 'tail -f --raw: the bytes as written, the split line whole, nothing twice');

  t.equal(await engine.exited, 0, `orch --once ends: ${engine.stderr()}`);
  t.equal(recordOf(root, 'T1')?.state, 'DONE');
  t.notOk(isAlive(Number(readFileSync(pidFile, 'utf8'))), 'the replaying agent does not outlive its attempt');
});
