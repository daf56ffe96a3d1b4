import t from 'tap';
import { fileURLToPath } from 'node:url';
import { makeProject } from '../fixtures/project.js';
import { runCli } from '../fixtures/run-cli.js';

const TRANSCRIPT = fileURLToPath(new URL('../fixtures/transcripts/claude-code/success.stdout.jsonl', import.meta.url));

t.test("orch tail renders an agent client's stream for people; --raw and --json keep the bytes", async t => {
  // The phase's command replays a stream recorded from the real claude; its provider says how to read it.
  const root = makeProject(t.testdir({}), {
    workflow: { implement: { command: ['cat', TRANSCRIPT], provider: 'claude_code' } },
    tasks: { T1: { goal: 'replay a recorded session' } },
  });
  const run = await runCli(['--once'], { cwd: root });
  t.equal(run.code, 0, run.stderr);
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
