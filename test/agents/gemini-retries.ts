// orch's own default for gemini's retries (agents/gemini-system-defaults.json through the adapter's
// envDefaults): with a user's settings that say nothing of retries, a 500 costs two requests, not ten.
// The real gemini against the stand-in.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { geminiAdapter } from '../../src/agents/gemini.js';
import { GEMINI_STAND_IN_SETTINGS, startGeminiStandIn } from '../fixtures/agent-api/gemini.js';
import { LIVE_FILE_TIMEOUT_MS } from '../fixtures/agent-api/run-client.js';

t.setTimeout(LIVE_FILE_TIMEOUT_MS);

const BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));

t.test("gemini under orch's defaults retries a 500 once inside the client, not ten times", async t => {
  const { general, ...rest } = GEMINI_STAND_IN_SETTINGS;
  const { maxAttempts: _dropped, ...generalWithoutRetries } = general;
  const standIn = await startGeminiStandIn(t, () => ({ kind: 'error', status: 500, message: 'internal error' }), {
    settings: { ...rest, general: generalWithoutRetries },
    clientOnly: true,
    relaunch: false,
  });
  const cwd = t.testdir({});
  const argv = geminiAdapter.argv({ phase: 'implement', prompt: 'Task T1: x', model: 'gemini-2.5-pro', resultFile: `${cwd}/r.json`, artifactsDir: cwd, cwd, decides: false, extraArgs: [] });
  const env = { ...process.env, ...standIn.env, ...geminiAdapter.envDefaults, PATH: `${BIN_DIR}:${process.env.PATH ?? ''}` };
  // Asynchronous: the stand-in answers from this very process.
  const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>(resolve => {
    const child = execFile(argv[0] ?? '', argv.slice(1), { cwd, env, timeout: 90_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }));
    // A stdin left open is waited on for 500 ms before the prompt is sent (the client reads piped input).
    child.stdin?.end();
  });
  t.not(run.status, 0, 'the client failed');
  t.equal(standIn.requests.length, 2, `two requests: one try and one retry (${standIn.requests.length} seen)`);
  t.match(geminiAdapter.parse(run.stdout, run.stderr, run.status).error, { kind: 'server', status: 500 });
});
