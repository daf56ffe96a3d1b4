// `orch` on a terminal shows one live line per running task below the log; piped, it does not.
// The terminal is a real pseudo-terminal (util-linux `script`), the agent a replay of a stream
// recorded from the real claude, printed slowly enough for the line to be drawn.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastAction } from '../../src/cli/format/live-lines.js';
import { makeProject } from '../fixtures/project.js';
import { ORCH_BIN, runCli } from '../fixtures/run-cli.js';
import { readFileSync } from 'node:fs';

const TRANSCRIPT = fileURLToPath(new URL('../fixtures/transcripts/claude-code/success.stdout.jsonl', import.meta.url));
// Each line 400 ms after the last, but the first tool call's result (line 3) stays the last action
// for 2.5 s: the live lines are redrawn every second, and a window shorter than that (two lines, 800
// ms) was missed now and then on a loaded machine.
const SLOW_REPLAY = 'const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\\n"); let i = 0; const next = () => { if (i < lines.length) { process.stdout.write(lines[i++] + "\\n"); setTimeout(next, i === 3 ? 2500 : 400); } }; next();';

const project = (dir: string): string =>
  makeProject(dir, {
    workflow: { implement: { command: [process.execPath, '-e', SLOW_REPLAY, TRANSCRIPT], provider: 'claude_code' } },
    tasks: { T1: { goal: 'replay a recorded session slowly' } },
  });

t.test('on a terminal, a running task has a live line: task, phase, step, elapsed and the agent\'s last action', async t => {
  const root = project(t.testdir({}));
  const command = `stty cols 200 rows 40; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(ORCH_BIN)} --once`;
  const result = spawnSync('script', ['-qfec', command, '/dev/null'], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ORCH_ROOT: '' } });
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /▶ T1 implement S1 · \d+s · (Write .*hello\.ts|.*File created)/, 'the live line with the last tool call');
  t.match(result.stdout, /Task T1 completed with status: done/);
});

t.test('piped, there are no live lines: only the log', async t => {
  const root = project(t.testdir({}));
  const result = await runCli(['--once'], { cwd: root, timeoutMs: 60_000 });
  t.equal(result.code, 0, result.stderr);
  t.notMatch(result.stdout, /▶/);
});

t.test("the last action is the adapter's last rendered line; a command's is its last line", async t => {
  const transcript = readFileSync(TRANSCRIPT, 'utf8');
  const upToWrite = transcript.split('\n').slice(0, 2).join('\n') + '\n';
  t.match(lastAction('claude_code', upToWrite), /Write .*hello\.ts/);
  t.match(lastAction('claude_code', `{"type":"assis${upToWrite}`, true), /Write .*hello\.ts/, 'a cut first line is left out');
  t.equal(lastAction(undefined, 'building\nstep 2 of 3\n'), 'step 2 of 3');
  t.equal(lastAction('claude_code', ''), undefined);
});
