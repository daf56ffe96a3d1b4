// Aider (Python; it cannot be installed on the machines this was built on, so this adapter is written
// from aider's documented output and NOT tested against the real client: README says so).
// Aider has no JSON output mode: it prints the model in its banner and a token/cost line per message:
//   Main model: gpt-4o with diff edit format
//   Tokens: 2.3k sent, 150 received. Cost: $0.0073 message, $0.0073 session.
// Errors come from litellm, whose exception names say the class (litellm.AuthenticationError…).
import type { AgentAdapter, AgentError, AgentReport, RenderedLine } from './types.js';

const MODEL_LINE = /^(?:Main )?[Mm]odel: (\S+)/m;
const TOKENS_LINE = /Tokens: ([\d.]+)(k|m)? sent(?:, [\d.]+k? cache \w+)*, ([\d.]+)(k|m)? received\.(?: Cost: \$([\d.]+) message, \$([\d.]+) session\.)?/g;
const ERROR_LINE = /litellm\.(\w+Error)[:\s]*(.*)/;

function scaled(value: string, unit: string | undefined): number {
  const n = Number(value);
  return Math.round(unit === 'k' ? n * 1_000 : unit === 'm' ? n * 1_000_000 : n);
}

function errorOf(text: string, exitCode: number | null): AgentError | undefined {
  const usage = /^aider: error: (.*)$/m.exec(text);
  if (usage !== null) return { kind: 'usage', message: `aider: error: ${usage[1] ?? ''}`.trim() };
  const match = ERROR_LINE.exec(text);
  if (match === null) return exitCode === 0 || exitCode === null ? undefined : { kind: 'other', message: `aider exited with code ${exitCode}` };
  const name = match[1] ?? '';
  const message = `litellm.${name}: ${(match[2] ?? '').trim()}`.slice(0, 500);
  if (name === 'AuthenticationError' || name === 'PermissionDeniedError') return { kind: 'auth', message };
  if (name === 'RateLimitError') return { kind: 'rate_limit', message };
  if (name === 'APIConnectionError' || name === 'Timeout') return { kind: 'network', message };
  if (name === 'InternalServerError' || name === 'ServiceUnavailableError') return { kind: 'server', message };
  if (name === 'BadRequestError' || name === 'NotFoundError' || name === 'ContextWindowExceededError') return { kind: 'request', message };
  return { kind: 'other', message };
}

export const aiderAdapter: AgentAdapter = {
  provider: 'aider',
  binary: 'aider',
  testedVersions: [],
  // Aider streams the model's reply to stdout as it arrives (its default --stream).
  streams: true,
  credentialVars: ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'OPENROUTER_API_KEY'],
  argv: invocation => [
    'aider',
    '--yes-always',
    '--no-auto-commits',
    '--no-pretty',
    '--no-check-update',
    '--no-show-model-warnings',
    ...(invocation.model === undefined ? [] : ['--model', invocation.model]),
    ...invocation.extraArgs,
    '--message',
    invocation.prompt,
  ],
  parse(stdout, stderr, exitCode): AgentReport {
    const report: AgentReport = {};
    const model = MODEL_LINE.exec(stdout)?.[1];
    if (model !== undefined) report.model = model;
    let input = 0;
    let output = 0;
    let session: number | undefined;
    for (const match of stdout.matchAll(TOKENS_LINE)) {
      input += scaled(match[1] ?? '0', match[2]);
      output += scaled(match[3] ?? '0', match[4]);
      if (match[6] !== undefined) session = Number(match[6]);
    }
    if (input + output > 0) report.tokens = { input, output, total: input + output };
    if (session !== undefined && Number.isFinite(session)) report.cost_usd = session;
    const error = errorOf(`${stdout}\n${stderr}`, exitCode);
    if (error !== undefined) report.error = error;
    const lines = stdout.trimEnd().split('\n');
    let tokensAt = lines.length - 1;
    while (tokensAt >= 0 && !(lines[tokensAt] ?? '').startsWith('Tokens: ')) tokensAt -= 1;
    const reply = (tokensAt > 0 ? lines.slice(0, tokensAt) : lines).join('\n').trim();
    if (reply !== '') report.final_message = reply.slice(-100_000);
    return report;
  },
  render(line): RenderedLine[] {
    if (line.trim() === '') return [];
    if (line.startsWith('Tokens: ')) return [{ kind: 'result', text: line }];
    if (ERROR_LINE.test(line)) return [{ kind: 'error', text: line }];
    if (/^Applied edit to /.test(line)) return [{ kind: 'tool', text: line }];
    return [{ kind: 'text', text: line }];
  },
};
