import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';

/** The stdout of a session recorded from the real client (test/fixtures/transcripts/<client>/record.ts). */
const transcriptFile = (client: string, name = 'success'): string => fileURLToPath(new URL(`../fixtures/transcripts/${client}/${name}.stdout.jsonl`, import.meta.url));
const TRANSCRIPT = transcriptFile('claude-code');

/** The fields of the recorded events that the rendering shows (ids and figures differ per recording). */
interface RecordedEvent {
  type: string;
  thread_id?: string;
  model?: string;
  session_id?: string;
  item?: { type: string; changes?: { path: string }[] };
  stats?: { duration_ms: number };
}

/** The events of a recorded stdout. */
const eventsOf = (file: string): RecordedEvent[] =>
  readFileSync(file, 'utf8').split('\n').filter(line => line !== '').map(line => JSON.parse(line) as RecordedEvent);

/** A project whose one phase replays a recorded stdout as its command, read through `provider`; run to its end. */
async function replayed(t: Test, file: string, provider: string): Promise<string> {
  const root = makeProject(t.testdir({}), {
    workflow: { implement: { command: ['cat', file], provider } },
    tasks: { T1: { goal: 'replay a recorded session' } },
  });
  const run = await runCli(['--once'], { cwd: root });
  t.equal(run.code, 0, run.stderr);
  return root;
}

/** `orch tail` text cut at its headers: each stream's text by name, and the state the headers name. */
function sections(out: string): { stdout: string; stderr: string; states: string[] } {
  const parts = out.split(/^==> T1 #1 implement S1 (stdout|stderr) \((.*)\) <==\n/m);
  const found: { stdout: string; stderr: string; states: string[] } = { stdout: '', stderr: '', states: [] };
  for (let i = 1; i + 2 < parts.length; i += 3) {
    found[parts[i] as 'stdout' | 'stderr'] = parts[i + 2] ?? '';
    found.states.push(parts[i + 1] ?? '');
  }
  return found;
}

t.test("orch tail renders an agent client's stream for people; --raw and --json keep the bytes", async t => {
  // The phase's command replays a stream recorded from the real claude; its provider says how to read it.
  const root = await replayed(t, TRANSCRIPT, 'claude_code');
  const rendered = await runCli(['tail', 'T1'], { cwd: root });
  t.equal(rendered.code, 0, rendered.stderr);
  t.match(rendered.stdout, /→ Write .*hello\.ts/, 'a tool call with its file');
  t.match(rendered.stdout, /\$0\.01/, 'the cost the client reported');
  t.notMatch(rendered.stdout, /"type":"system"/, 'no raw JSON');
  const raw = await runCli(['tail', '--raw', 'T1'], { cwd: root });
  t.match(raw.stdout, /"type":"system","subtype":"init"/);
  const json = await runCli(['tail', '--json', 'T1'], { cwd: root });
  t.match(JSON.parse(json.stdout).attempts[0].stdout, /"type":"result"/);
});

t.test("orch tail renders codex's --json events (a recorded session of the real codex) for people; --raw shows the bytes", async t => {
  const file = transcriptFile('codex');
  const events = eventsOf(file);
  const patched = events.find(event => event.type === 'item.completed' && event.item?.type === 'file_change')?.item?.changes?.[0]?.path;
  const root = await replayed(t, file, 'codex');

  const rendered = await runCli(['tail', 'T1'], { cwd: root });
  t.equal(rendered.code, 0, rendered.stderr);
  const shown = sections(rendered.stdout);
  t.same(shown.states, ['succeeded, exit 0', 'succeeded, exit 0'], 'a header per stream, with how the attempt ended');
  t.equal(shown.stdout, [
    `codex · thread ${events[0]?.thread_id}`,
    `→ patch: add ${patched}`,
    'I wrote src/hello.ts.',
    '',
    '```json',
    '{"outcome":"done","reason":"wrote src/hello.ts"}',
    '```',
    '✔ done · 2000 in / 400 out',
    '',
  ].join('\n'), 'the thread, the file the patch added, what the agent said, the tokens of the turn: no JSON');
  t.equal(shown.stderr, '(empty)\n');

  const raw = await runCli(['tail', '--raw', 'T1'], { cwd: root });
  t.equal(raw.code, 0, raw.stderr);
  t.equal(sections(raw.stdout).stdout, readFileSync(file, 'utf8'), '--raw: the bytes the client wrote, every line');
});

t.test("orch tail renders gemini's stream-json (a recorded session of the real gemini) for people; --raw shows the bytes", async t => {
  const file = transcriptFile('gemini');
  const events = eventsOf(file);
  const init = events.find(event => event.type === 'init');
  const seconds = ((events.find(event => event.type === 'result')?.stats?.duration_ms ?? NaN) / 1000).toFixed(1);
  const root = await replayed(t, file, 'gemini');

  const rendered = await runCli(['tail', 'T1'], { cwd: root });
  t.equal(rendered.code, 0, rendered.stderr);
  const shown = sections(rendered.stdout);
  t.same(shown.states, ['succeeded, exit 0', 'succeeded, exit 0']);
  t.equal(shown.stdout, [
    `gemini · ${init?.model} · session ${init?.session_id}`,
    '→ write_file $CWD/src/hello.ts',
    '  ↳ ok',
    '→ write_file $CWD/.isollm/runs/task-1/attempt-1/result.json',
    '  ↳ ok',
    // Each streamed chunk of the answer is a line of its own (the recorded answer came in two chunks).
    'I wrote src/hello.ts and the result file.',
    '',
    '```json',
    '{',
    '"outcome":"done","reason":"wrote src/hello.ts"}',
    '```',
    `✔ done · 2 tool calls · ${seconds} s · 3000 in / 600 out`,
    '',
  ].join('\n'), 'the model and session, each tool call with its file and its result, the answer, the totals: no JSON');
  t.equal(shown.stderr, '(empty)\n');

  const raw = await runCli(['tail', '--raw', 'T1'], { cwd: root });
  t.equal(raw.code, 0, raw.stderr);
  t.equal(sections(raw.stdout).stdout, readFileSync(file, 'utf8'), '--raw: the bytes the client wrote, every line');
});
