import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeCodeAdapter } from '../../src/agents/claude-code.js';
import type { OrchConfig } from '../../src/generated/types.js';
import { checkAgents, longFlags } from '../../src/project/agent-check.js';
import { isAlive } from '../fixtures/wait-for.js';

// The real clients, pinned in devDependencies (package.json): every probe below runs them.
const BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));
const PATH = `${BIN_DIR}:/usr/bin:/bin`;
const config = (implement: Record<string, unknown>): OrchConfig => ({ version: 1, project: 'doctor', workflows: { default: { implement } } });

/** The project, HOME and a folder for scripts, apart (t.testdir() is one folder per test). */
function dirs(t: Test): { root: string; home: string; scratch: string } {
  const base = t.testdir({ project: {}, home: {}, scratch: {} });
  return { root: join(base, 'project'), home: join(base, 'home'), scratch: join(base, 'scratch') };
}

/**
 * A folder (under `scratch`) holding an executable `claude`, a shell script and so a real process, to
 * put first on PATH. `onVersion` and `onHelp` are what it does for those; anything else (and by default
 * --help) runs the real pinned claude.
 */
function fakeClaude(scratch: string, name: string, onVersion: string, onHelp = `exec ${JSON.stringify(join(BIN_DIR, 'claude'))} "$@"`): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const file = join(dir, 'claude');
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then ${onVersion}; fi\nif [ "$1" = "--help" ]; then ${onHelp}; fi\nexec ${JSON.stringify(join(BIN_DIR, 'claude'))} "$@"\n`);
  chmodSync(file, 0o755);
  return dir;
}

t.test('doctor probes the real client: a flag its --help does not list is an error, missing credentials a warning', async t => {
  const { root, home } = dirs(t);
  const checks = checkAgents(config({ provider: 'claude_code', args: ['--bogus-flag-orch'] }), root, { PATH, HOME: home });
  t.match(checks, [
    { severity: 'warning', pointer: '/workflows/default/implement/provider', message: /none of ANTHROPIC_API_KEY, .* is set for claude/ },
    { severity: 'error', message: /`claude --help` does not list --bogus-flag-orch/ },
  ]);
  t.equal(checks.length, 2, 'the tested version and the flags orch passes itself raise nothing');
});

t.test('doctor probes the real codex: `codex exec --help` lists every flag orch passes, not a bogus one; its credentials are checked', async t => {
  const { root, home } = dirs(t);
  const checks = checkAgents(config({ provider: 'codex', args: ['--bogus-flag-orch'] }), root, { PATH, HOME: home });
  t.match(checks, [
    { severity: 'warning', pointer: '/workflows/default/implement/provider', message: /none of OPENAI_API_KEY, CODEX_API_KEY is set for codex/ },
    { severity: 'error', pointer: '/workflows/default/implement/provider', message: /^`codex exec --help` does not list --bogus-flag-orch: the client will refuse it$/ },
  ]);
  t.equal(checks.length, 2, 'codex 0.171.0 is the tested version, and --json, --sandbox, --add-dir, --output-last-message… are listed');
  const clean = checkAgents(config({ provider: 'codex_cli' }), root, { PATH, HOME: home, OPENAI_API_KEY: 'sk-probe' });
  t.same(clean, [], 'with a credentials variable set, the tested client raises nothing (codex_cli is read as codex)');
});

t.test('doctor probes the real gemini: its --help lists every flag orch passes, not a bogus one; its credentials are checked', async t => {
  const { root, home } = dirs(t);
  // gemini took 5 to 19 s to answer a probe on a busy 2-core machine: a wider timeout than doctor's,
  // so a slow start is not what this test sees.
  const checks = checkAgents(config({ provider: 'gemini', args: ['--bogus-flag-orch'] }), root, { PATH, HOME: home }, 60_000);
  t.match(checks, [
    { severity: 'warning', pointer: '/workflows/default/implement/provider', message: /none of GEMINI_API_KEY, GOOGLE_API_KEY, .* is set for gemini/ },
    { severity: 'error', pointer: '/workflows/default/implement/provider', message: /^`gemini --help` does not list --bogus-flag-orch: the client will refuse it$/ },
  ]);
  t.equal(checks.length, 2, 'gemini 0.61.0 is the tested version, and --include-directories, --output-format, --skip-trust, --approval-mode, --prompt… are listed');
});

t.test('doctor: a claude first on PATH whose --version is not a tested one is a warning naming both versions', async t => {
  const { root, home, scratch } = dirs(t);
  const bin = fakeClaude(scratch, 'older', 'echo "2.0.5 (Claude Code)"; exit 0');
  const env = { PATH: `${bin}:${PATH}`, HOME: home, ANTHROPIC_API_KEY: 'sk-probe' };
  const checks = checkAgents(config({ provider: 'claude_code' }), root, env);
  t.same(checks, [{
    severity: 'warning',
    pointer: '/workflows/default/implement/provider',
    message: `claude is version 2.0.5; orch was tested with ${claudeCodeAdapter.testedVersions.join(', ')}`,
    action: 'run a task and watch its first attempt, or install a tested version',
  }], 'only the version: its --help is the real one, and a credentials variable is set');
  const unreadable = checkAgents(config({ provider: 'claude_code' }), root, { ...env, PATH: `${fakeClaude(scratch, 'no-number', 'echo "Claude Code"; exit 0')}:${PATH}` });
  t.match(unreadable, [{ severity: 'warning', message: /^claude is version unknown; orch was tested with 2\.1\.197$/ }], 'a --version with no version number in it');
  t.equal(unreadable.length, 1);
});

t.test('doctor: a client that does not answer --help in time is a warning that the flags were not checked, not a refusal', async t => {
  // A real process that hangs on --help (and says its pid); the probe's timeout stops it.
  const { root, home, scratch } = dirs(t);
  const pidFile = join(scratch, 'help.pid');
  const bin = fakeClaude(scratch, 'hangs', `echo "${claudeCodeAdapter.testedVersions[0]} (Claude Code)"; exit 0`, `echo $$ > ${JSON.stringify(pidFile)}; exec sleep 30`);
  const started = Date.now();
  const checks = checkAgents(config({ provider: 'claude_code' }), root, { PATH: `${bin}:${PATH}`, HOME: home, ANTHROPIC_API_KEY: 'sk-probe' }, 500);
  t.ok(Date.now() - started < 10_000, 'the probe was stopped at its timeout');
  t.same(checks, [{
    severity: 'warning',
    pointer: '/workflows/default/implement/provider',
    message: '`claude --help` did not answer within 0.5 s: the flags orch passes were not checked',
    action: 'run `claude --help` by hand, then `orch doctor` again',
  }]);
  t.notOk(isAlive(Number(readFileSync(pidFile, 'utf8'))), 'the hanging --help does not outlive the probe');
});

t.test('doctor: a client that is not on PATH is an error naming the tested version; a configured command is not probed', async t => {
  const checks = checkAgents(config({ provider: 'claude_cli' }), t.testdir({}), { PATH: '/usr/bin:/bin' });
  t.match(checks, [{ severity: 'error', message: /the claude_code client "claude" is not found on PATH/, action: /tested: claude 2\.1\.197/ }]);
  t.same(checkAgents(config({ provider: 'claude_code', command: ['./my-claude.sh'] }), t.testdir({}), { PATH: '/usr/bin:/bin' }), []);
});

t.test('the long flags of an argv, without values or the prompt', async t => {
  t.same(longFlags(['claude', '-p', '--output-format', 'stream-json', '--model=x', '--', '--not-a-flag?']), ['--output-format', '--model']);
});
