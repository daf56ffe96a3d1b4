// Any other program: its argv is the config's `command`, and it reports only through the result file
// and its exit code. Nothing is parsed from its output, which may be anything.
import type { AgentAdapter } from './types.js';

export const commandAdapter: AgentAdapter = {
  provider: 'command',
  binary: '',
  testedVersions: [],
  // Its output is whatever it prints: a configured stall timeout is the user's own choice.
  streams: true,
  credentialVars: [],
  argv: () => [],
  parse: () => ({}),
  render: line => (line.trim() === '' ? [] : [{ kind: 'text', text: line }]),
};
