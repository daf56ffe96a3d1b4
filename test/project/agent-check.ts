import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { OrchConfig } from '../../src/generated/types.js';
import { checkAgents, longFlags } from '../../src/project/agent-check.js';

const BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin', import.meta.url));
const PATH = `${BIN_DIR}:/usr/bin:/bin`;
const config = (implement: Record<string, unknown>): OrchConfig => ({ version: 1, project: 'doctor', workflows: { default: { implement } } });

t.test('doctor probes the real client: a flag its --help does not list is an error, missing credentials a warning', async t => {
  const checks = checkAgents(config({ provider: 'claude_code', args: ['--bogus-flag-orch'] }), t.testdir({}), { PATH, HOME: t.testdir({}) });
  t.match(checks, [
    { severity: 'warning', pointer: '/workflows/default/implement/provider', message: /none of ANTHROPIC_API_KEY, .* is set for claude/ },
    { severity: 'error', message: /`claude --help` does not list --bogus-flag-orch/ },
  ]);
  t.equal(checks.length, 2, 'the tested version and the flags orch passes itself raise nothing');
});

t.test('doctor: a client that is not on PATH is an error naming the tested version; a configured command is not probed', async t => {
  const checks = checkAgents(config({ provider: 'claude_cli' }), t.testdir({}), { PATH: '/usr/bin:/bin' });
  t.match(checks, [{ severity: 'error', message: /the claude_code client "claude" is not found on PATH/, action: /tested: claude 2\.1\.197/ }]);
  t.same(checkAgents(config({ provider: 'claude_code', command: ['./my-claude.sh'] }), t.testdir({}), { PATH: '/usr/bin:/bin' }), []);
});

t.test('the long flags of an argv, without values or the prompt', async t => {
  t.same(longFlags(['claude', '-p', '--output-format', 'stream-json', '--model=x', '--', '--not-a-flag?']), ['--output-format', '--model']);
});
