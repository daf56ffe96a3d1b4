// The Codex adapter (`codex`, tested on 0.171.0). It runs `codex exec --json`, which prints one JSON
// event per line while the agent works (thread.started, turn.*, item.*, error), and reads those events
// back into an AgentReport. specs/agents/codex.md holds the shapes these functions rely on.
import { dirname, join } from 'node:path';
import { usageErrorOf } from './classify-error.js';
import type { AgentAdapter, AgentError, AgentErrorKind, AgentInvocation, AgentReport, RenderedLine } from './types.js';
import { clip, oneLine, isInside, isJson, jsonField, kindOfStatus, numberField, readEvent, stringField, type Json } from './read-output.js';

/**
 * workspace-write lets the agent's commands and patches write under cwd (and any --add-dir) and nowhere
 * else; `exec` never asks for approval, it refuses. (`--full-auto`, its old spelling, is gone in 0.171.)
 */
export const CODEX_SANDBOX = 'workspace-write';

/** Where `-o` makes codex write the agent's last message, in the attempt's artifacts dir. */
export const CODEX_LAST_MESSAGE_FILE = 'last-message.md';

export const codexAdapter: AgentAdapter = {
  provider: 'codex',
  binary: 'codex',
  testedVersions: ['0.171.0'],
  streams: true,
  // OPENAI_API_KEY is what the built-in OpenAI provider (and most custom ones, via env_key) read;
  // CODEX_API_KEY is read by `codex exec` alone. A `codex login` session lives in $CODEX_HOME/auth.json.
  credentialVars: ['OPENAI_API_KEY', 'CODEX_API_KEY'],
  argv: codexArgv,
  parse: parseCodex,
  render: renderCodex,
};

export function codexArgv(invocation: AgentInvocation): string[] {
  // --skip-git-repo-check: exec refuses a cwd outside a git repository without it (a plain project).
  const args = ['codex', 'exec', '--json', '--sandbox', CODEX_SANDBOX, '--skip-git-repo-check'];
  // The sandbox refuses a write outside cwd ("Read-only file system"; a patch is "rejected"): when the
  // result file lives elsewhere, its folder is made writable too.
  if (!isInside(invocation.resultFile, invocation.cwd)) args.push('--add-dir', dirname(invocation.resultFile));
  args.push('--output-last-message', join(invocation.artifactsDir, CODEX_LAST_MESSAGE_FILE));
  if (invocation.model !== undefined && invocation.model !== '') args.push('--model', invocation.model);
  // `--` ends the options, so a prompt that starts with '-' is the prompt. (A prompt of exactly '-'
  // would still mean "read stdin": orch's prompts never are.)
  args.push(...invocation.extraArgs, '--', invocation.prompt);
  return args;
}

// ---------------------------------------------------------------------------------------------------
// parse

interface ParseState {
  events: number;
  threadId?: string;
  /** The model named by the client's "Model metadata for `M` not found" warning (its only mention). */
  model?: string;
  lastMessage?: string;
  input: number;
  output: number;
  turnsCompleted: number;
  /** turn.failed's message: the turn's fatal error. */
  failure?: string;
  /** The last top-level `error` event (a fatal error, or "Reconnecting..." while it waits). */
  lastError?: string;
}

export function parseCodex(stdout: string, stderr: string, exitCode: number | null): AgentReport {
  const state: ParseState = { events: 0, input: 0, output: 0, turnsCompleted: 0 };
  for (const line of stdout.split('\n')) {
    const event = readEvent(line);
    if (event !== undefined) readInto(state, event);
  }
  const report: AgentReport = { events: state.events };
  if (state.lastMessage !== undefined) {
    report.final_message = state.lastMessage;
    const structured = wholeJson(state.lastMessage);
    if (structured !== undefined) report.structured = structured;
  }
  if (state.model !== undefined) report.model = state.model;
  if (state.turnsCompleted > 0) report.tokens = { input: state.input, output: state.output, total: state.input + state.output };
  if (state.threadId !== undefined) report.session_id = state.threadId;
  const error = errorOf(state, stderr, exitCode);
  if (error !== undefined) report.error = error;
  return report;
}

const MODEL_WARNING = /^Model metadata for `([^`]+)` not found/;

function readInto(state: ParseState, event: Json): void {
  state.events++;
  switch (event['type']) {
    case 'thread.started': {
      const thread = stringField(event, 'thread_id');
      if (state.threadId === undefined && thread !== undefined) state.threadId = thread;
      return;
    }
    case 'item.completed': {
      const item = jsonField(event, 'item');
      const text = item === undefined ? undefined : stringField(item, 'text');
      if (item?.['type'] === 'agent_message' && text !== undefined) state.lastMessage = text;
      const model = item?.['type'] === 'error' ? MODEL_WARNING.exec(stringField(item, 'message') ?? '')?.[1] : undefined;
      if (model !== undefined) state.model = model;
      return;
    }
    case 'turn.completed': {
      // Usage is per turn (every request of the turn summed); input_tokens already counts cached input.
      const usage = jsonField(event, 'usage');
      state.turnsCompleted++;
      state.input += (usage === undefined ? undefined : numberField(usage, 'input_tokens')) ?? 0;
      state.output += (usage === undefined ? undefined : numberField(usage, 'output_tokens')) ?? 0;
      return;
    }
    case 'turn.failed': {
      const error = jsonField(event, 'error');
      state.failure = (error === undefined ? undefined : stringField(error, 'message')) ?? 'turn failed';
      return;
    }
    case 'error': {
      const message = stringField(event, 'message');
      if (message !== undefined) state.lastError = message;
      return;
    }
    default:
      return;
  }
}

/** The final message as JSON when it is nothing else (what `--output-schema` makes codex answer). */
function wholeJson(text: string): Json | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isJson(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function errorOf(state: ParseState, stderr: string, exitCode: number | null): AgentError | undefined {
  if (state.failure !== undefined) return errorOfMessage(state.failure);
  // Killed while it retried (it waits for the network for ever): the last error it printed says why.
  if (state.turnsCompleted === 0 && state.lastError !== undefined) return errorOfMessage(state.lastError);
  if (exitCode === 0 || exitCode === null) return undefined;
  const usage = usageErrorOf(exitCode, stderr);
  if (usage !== undefined) return usage;
  // Before its first event codex only stops for its setup: config.toml, a flag value, the -o file.
  const line = stderrError(stderr);
  if (state.events === 0 && line !== undefined) return { kind: 'usage', message: oneLine(line) };
  return { kind: 'other', message: oneLine(line ?? lastLine(stderr) ?? `codex exited with code ${exitCode}`) };
}

function stderrError(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .map(line => line.trim())
    .find(line => /^error\b/i.test(line));
}

/** How codex words each failure (codex-rs CodexErr's Display), read into a kind and what it exposes. */
function errorOfMessage(raw: string): AgentError {
  const message = oneLine(bodyMessage(raw) ?? raw);
  const status = Number(/(?:unexpected status|last status:) (\d{3})\b/.exec(raw)?.[1] ?? Number.NaN);
  if (Number.isInteger(status)) return withRetry({ kind: kindOfStatus(status), message, status }, raw);
  // CodexErr::InternalServerError is how codex words exactly an HTTP 500.
  if (/currently experiencing high demand/i.test(raw)) return { kind: 'server', message, status: 500 };
  return withRetry({ kind: kindOfText(raw), message }, raw);
}

/** A 400's message is the raw response body: its error.message, when it is the API's JSON. */
function bodyMessage(raw: string): string | undefined {
  const body = wholeJson(raw);
  const error = body === undefined ? undefined : jsonField(body, 'error');
  return error === undefined ? undefined : stringField(error, 'message');
}

function kindOfText(text: string): AgentErrorKind {
  if (/rate limit|usage limit|quota exceeded|too many requests|spend cap|out of credits/i.test(text)) return 'rate_limit';
  if (/missing environment variable|api key|unauthorized|upgrade to plus|sign in again|refresh token/i.test(text)) return 'auth';
  if (/at capacity|overloaded|internal server error/i.test(text)) return 'server';
  if (/reconnecting|stream disconnected|connection failed|error sending request|idle timeout|timed out|reading the server response|network/i.test(text)) return 'network';
  if (/context window|invalid request|invalid_request|^\s*\{/i.test(text)) return 'request';
  return 'other';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/**
 * What the message says of when to try again: "try again in 7s" (a rate limit inside the stream), or a
 * usage limit's dated "try again at Dec 3rd, 2026 4:05 PM" (the client's local time, read as ours; a
 * reset later today is printed without its date, and is left to the caller's default wait).
 */
function withRetry(error: AgentError, text: string): AgentError {
  const after = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?)\b/i.exec(text);
  if (after !== undefined && after !== null) {
    const value = Number(after[1]);
    const seconds = after[2]?.toLowerCase() === 'ms' ? value / 1000 : value;
    return { ...error, retry_after_s: Math.ceil(seconds) };
  }
  const at = /try again at (\w{3}) (\d{1,2})(?:st|nd|rd|th), (\d{4}) (\d{1,2}):(\d{2}) (AM|PM)/i.exec(text);
  const month = at === null ? -1 : MONTHS.findIndex(name => name.toLowerCase() === at[1]?.toLowerCase());
  if (at === null || month < 0) return error;
  const hour = (Number(at[4]) % 12) + (at[6]?.toUpperCase() === 'PM' ? 12 : 0);
  return { ...error, reset_at_ms: new Date(Number(at[3]), month, Number(at[2]), hour, Number(at[5])).getTime() };
}

// ---------------------------------------------------------------------------------------------------
// render

export function renderCodex(line: string): RenderedLine[] {
  const trimmed = line.trim();
  if (trimmed === '') return [];
  const event = readEvent(trimmed);
  if (event === undefined) return [{ kind: 'info', text: clip(trimmed) }];
  switch (event['type']) {
    case 'thread.started': {
      const thread = stringField(event, 'thread_id');
      return [{ kind: 'info', text: `codex${thread === undefined ? '' : ` · thread ${thread}`}` }];
    }
    case 'item.started':
    case 'item.completed': {
      const item = jsonField(event, 'item');
      return item === undefined ? [] : renderItem(item, event['type'] === 'item.completed');
    }
    case 'turn.completed': {
      const usage = jsonField(event, 'usage');
      const input = usage === undefined ? undefined : numberField(usage, 'input_tokens');
      const output = usage === undefined ? undefined : numberField(usage, 'output_tokens');
      return [{ kind: 'result', text: `done${input === undefined ? '' : ` · ${input} in / ${output ?? 0} out`}` }];
    }
    case 'turn.failed': {
      const error = jsonField(event, 'error');
      return [{ kind: 'error', text: `failed: ${oneLine((error === undefined ? undefined : stringField(error, 'message')) ?? 'turn failed')}` }];
    }
    case 'error':
      return [{ kind: 'error', text: oneLine(stringField(event, 'message') ?? 'error') }];
    default:
      return [];
  }
}

/** An item when it starts (a command) or completes (everything else, and a command's exit code). */
function renderItem(item: Json, completed: boolean): RenderedLine[] {
  switch (item['type']) {
    case 'agent_message': {
      const text = completed ? (stringField(item, 'text') ?? '') : '';
      // One RenderedLine per line of text, so a view can prefix and wrap each.
      return text.trim() === '' ? [] : text.trimEnd().split('\n').map(part => ({ kind: 'text', text: part }));
    }
    case 'reasoning': {
      const text = completed ? stringField(item, 'text') : undefined;
      return text === undefined || text.trim() === '' ? [] : [{ kind: 'info', text: `thinking: ${clip(text)}` }];
    }
    case 'command_execution': {
      if (!completed) return [{ kind: 'tool', text: `$ ${clip(stringField(item, 'command') ?? '')}` }];
      const code = numberField(item, 'exit_code');
      const output = lastLine(stringField(item, 'aggregated_output') ?? '');
      const failed = item['status'] !== 'completed' || (code !== undefined && code !== 0);
      return [{ kind: failed ? 'error' : 'tool', text: `  ↳ exit ${code ?? '?'}${output === undefined ? '' : `: ${clip(output)}`}` }];
    }
    case 'file_change': {
      if (!completed) return [];
      const changes = Array.isArray(item['changes']) ? item['changes'].filter(isJson) : [];
      const what = changes.map(change => `${stringField(change, 'kind') ?? 'change'} ${stringField(change, 'path') ?? '?'}`).join(', ');
      const failed = item['status'] === 'failed';
      return [{ kind: failed ? 'error' : 'tool', text: `${failed ? 'patch failed' : 'patch'}: ${clip(what)}` }];
    }
    case 'mcp_tool_call':
      return completed ? [] : [{ kind: 'tool', text: `mcp ${stringField(item, 'server') ?? '?'}.${stringField(item, 'tool') ?? '?'}` }];
    case 'web_search':
      return completed ? [] : [{ kind: 'tool', text: `search ${clip(stringField(item, 'query') ?? '')}` }];
    case 'todo_list': {
      const items = Array.isArray(item['items']) ? item['items'].filter(isJson) : [];
      return completed ? [] : items.map(todo => ({ kind: 'info', text: `${todo['completed'] === true ? '[x]' : '[ ]'} ${clip(stringField(todo, 'text') ?? '')}` }));
    }
    case 'error':
      // A warning the client goes on after (an unknown model's metadata, say).
      return completed ? [{ kind: 'info', text: `warning: ${clip(stringField(item, 'message') ?? '')}` }] : [];
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------------------
// small readers: every field is checked, so no shape of input can throw

function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map(line => line.trim()).filter(line => line !== '');
  return lines.at(-1);
}

