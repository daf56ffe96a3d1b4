// examples/claude-code, codex and gemini work unchanged: each config is copied as it is into a project,
// and the real client, pointed at its stand-in API by environment alone, takes a task to DONE (through
// the example's human gate where it has one). npm test is the examples' gate, so the project has one.
import t from 'tap';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { TaskRecord } from '../../src/generated/types.js';
import { startAnthropicStandIn } from '../fixtures/agent-api/anthropic.js';
import { startGeminiStandIn } from '../fixtures/agent-api/gemini.js';
import { startOpenAiStandIn } from '../fixtures/agent-api/openai.js';
import { phaseResponder } from '../fixtures/agent-api/phase-responder.js';
import type { Responder, StandIn } from '../fixtures/agent-api/stand-in.js';
import { runCli } from '../fixtures/run-cli.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PATH = `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;

type Start = (t: Test, respond: Responder, options?: { home?: string }) => Promise<StandIn>;
const EXAMPLES: readonly { name: string; start: Start; gated: boolean }[] = [
  { name: 'claude-code', start: startAnthropicStandIn, gated: true },
  { name: 'codex', start: startOpenAiStandIn, gated: false },
  { name: 'gemini', start: startGeminiStandIn, gated: false },
];

for (const example of EXAMPLES) {
  t.test(`examples/${example.name}/config.json, unchanged, takes a task to DONE with the real client`, async t => {
    const root = t.testdir({ 'package.json': JSON.stringify({ name: 'demo', private: true, scripts: { test: 'node -e ""' } }) });
    for (const dir of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', dir), { recursive: true });
    copyFileSync(join(REPO, 'examples', example.name, 'config.json'), join(root, '.isollm', 'config.json'));
    const home = join(root, '..', `${example.name}-example-home`);
    mkdirSync(home, { recursive: true });
    const standIn = await example.start(t, phaseResponder(root, {}).respond, { home });
    const env = { ...standIn.env, PATH };
    writeFileSync(join(root, '.isollm', 'tasks', 'demo.json'), JSON.stringify({ goal: 'Write the demo file' }));
    const first = await runCli(['--once'], { cwd: root, env, timeoutMs: 300_000 });
    const record = (): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', 'demo.json'), 'utf8')) as TaskRecord;
    if (example.gated) {
      t.match(record(), { state: 'AWAITING_HUMAN', awaiting: { kind: 'gate', phase: 'implement' } }, first.stderr);
      t.equal((await runCli(['approve', 'demo', '--note', 'go'], { cwd: root, env })).code, 0);
      const second = await runCli(['--once'], { cwd: root, env, timeoutMs: 300_000 });
      t.equal(second.code, 0, second.stderr);
    } else {
      t.equal(first.code, 0, first.stderr);
    }
    t.equal(record().state, 'DONE');
    t.equal(readFileSync(join(root, 'demo-S1.txt'), 'utf8'), 'demo S1\n', "the agent's edit is in the tree");
  });
}
