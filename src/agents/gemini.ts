// The Gemini CLI adapter (`gemini`, tested on 0.61.0). It runs the client headless with its stream-json
// output, one JSON event per line while the agent works (init, message, tool_use, tool_result, error,
// result), and reads those events back into an AgentReport. specs/agents/gemini.md holds the shapes
// these functions rely on.
import { dirname, join } from 'node:path';
import { packageRoot } from '../schema/package-dir.js';
import type { AgentAdapter, AgentError, AgentErrorKind, AgentInvocation, AgentReport, RenderedLine } from './types.js';
import { clip, isInside, isJson, jsonField, kindOfStatus, numberField, oneLine, readEvent, stringField, type Json } from './read-output.js';

/**
 * The approval modes used. auto_edit lets the file tools (write_file, replace) change files in the
 * workspace without asking and keeps run_shell_command out of a headless run; yolo would approve every
 * shell command too. The deciding phases run in `default`: headless, the client then offers no tool
 * that edits or runs anything, so a review cannot change the tree it judges (its result is the fenced
 * block). Naming `default` also overrides a user's general.defaultApprovalMode.
 */
export const GEMINI_APPROVAL_MODES = { implement: 'auto_edit', decide: 'default' } as const;

/** orch's lowest-priority settings for the client, in the package's agents/ folder. */
export const GEMINI_SYSTEM_DEFAULTS_FILE = 'gemini-system-defaults.json';

export const geminiAdapter: AgentAdapter = {
  provider: 'gemini',
  binary: 'gemini',
  testedVersions: ['0.61.0'],
  streams: true,
  // GEMINI_API_KEY for the Gemini API; GOOGLE_API_KEY (Vertex AI express) or GOOGLE_CLOUD_PROJECT with
  // GOOGLE_CLOUD_LOCATION and application default credentials for Vertex AI. A `gemini` Google login
  // lives in ~/.gemini and has no variable at all.
  credentialVars: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'],
  // gemini-cli takes its retries only from settings (10 attempts by default, 5 s to 30 s apart: a 500
  // costs minutes inside one attempt). A lowest-priority settings file shipped with orch sets 2; a
  // user's own settings still win. The client skips the file if it or a parent is group/world-writable.
  get envDefaults() {
    return { GEMINI_CLI_SYSTEM_DEFAULTS_PATH: join(packageRoot(), 'agents', GEMINI_SYSTEM_DEFAULTS_FILE) };
  },
  argv: geminiArgv,
  parse: parseGemini,
  render: renderGemini,
};

export function geminiArgv(invocation: AgentInvocation): string[] {
  const args = ['gemini'];
  // write_file refuses paths outside the workspace directories: a result file elsewhere (a task worktree
  // outside the repo) gets its folder added. It goes first because yargs lets an array option swallow
  // the positional words after it; the next word here is always a flag.
  if (!invocation.decides && !isInside(invocation.resultFile, invocation.cwd)) args.push('--include-directories', dirname(invocation.resultFile));
  args.push('--output-format', 'stream-json');
  // Headless, an untrusted folder is refused (exit 55) and would also force approval mode back to
  // default: the folder orch hands the agent is trusted for this run.
  args.push('--skip-trust');
  args.push('--approval-mode', invocation.decides ? GEMINI_APPROVAL_MODES.decide : GEMINI_APPROVAL_MODES.implement);
  if (invocation.model !== undefined && invocation.model !== '') args.push('--model', invocation.model);
  args.push(...invocation.extraArgs);
  // `--prompt=TEXT` in one word: `-p TEXT` is refused when TEXT starts with '-' ("Not enough arguments
  // following: p"). A prompt starting with '/' would run as a slash command: a leading space keeps it text.
  args.push(`--prompt=${invocation.prompt.startsWith('/') ? ` ${invocation.prompt}` : invocation.prompt}`);
  return args;
}

// ---------------------------------------------------------------------------------------------------
// parse

interface ParseState {
  events: number;
  sessionId?: string;
  initModel?: string;
  /** The assistant's text per turn (a tool call ends a turn); deltas are joined. */
  turns: string[];
  turnOpen: boolean;
  /** The last `error` event of severity error (the client's words when a result has none). */
  lastErrorEvent?: string;
  result?: Json;
}

export function parseGemini(stdout: string, stderr: string, exitCode: number | null): AgentReport {
  const state: ParseState = { events: 0, turns: [], turnOpen: false };
  for (const line of stdout.split('\n')) {
    const event = readEvent(line);
    if (event !== undefined) readInto(state, event);
  }
  const report: AgentReport = { events: state.events };
  const finalMessage = [...state.turns].reverse().find(text => text.trim() !== '');
  if (finalMessage !== undefined) report.final_message = finalMessage;
  const result = state.result;
  const stats = result === undefined ? undefined : jsonField(result, 'stats');
  const failed = result !== undefined && result['status'] !== 'success';
  const model = mainModel(state.initModel, stats, failed);
  if (model !== undefined) report.model = model;
  const tokens = stats === undefined ? undefined : tokensOfStats(stats);
  if (tokens !== undefined) report.tokens = tokens;
  if (state.sessionId !== undefined) report.session_id = state.sessionId;
  const error = result === undefined ? errorWithoutResult(stderr, exitCode) : failed ? errorOfResult(result, state, stderr, exitCode) : undefined;
  if (error !== undefined) report.error = error;
  return report;
}

function readInto(state: ParseState, event: Json): void {
  state.events++;
  switch (event['type']) {
    case 'init': {
      const sessionId = stringField(event, 'session_id');
      const model = stringField(event, 'model');
      if (sessionId !== undefined) state.sessionId = sessionId;
      if (model !== undefined) state.initModel = model;
      return;
    }
    case 'message': {
      const content = stringField(event, 'content');
      if (event['role'] !== 'assistant' || content === undefined) return;
      // Every assistant chunk is a delta of the current turn; a whole message (delta false) replaces it.
      if (state.turnOpen && event['delta'] === true) state.turns[state.turns.length - 1] += content;
      else state.turns.push(content);
      state.turnOpen = true;
      return;
    }
    case 'tool_use':
    case 'tool_result':
      state.turnOpen = false;
      return;
    case 'error': {
      const message = stringField(event, 'message');
      if (message !== undefined && event['severity'] === 'error') state.lastErrorEvent = message;
      return;
    }
    case 'result':
      state.result = event;
      return;
    default:
      return;
  }
}

/**
 * The model that did the work. stats.models is keyed by the model each response named, and also holds
 * the client's side calls (with no --model, a routing classifier on a flash-lite model runs first).
 * The asked-for model when it is a key; else the key that read the most input (the main conversation
 * carries the system prompt and every tool declaration), the later key on a tie since the classifier
 * runs before the main call; after a failure, a last key with no tokens is the call that failed.
 */
function mainModel(initModel: string | undefined, stats: Json | undefined, failed: boolean): string | undefined {
  const concrete = initModel !== undefined && initModel !== '' && !initModel.startsWith('auto') ? initModel : undefined;
  const models = stats === undefined ? undefined : jsonField(stats, 'models');
  const entries = models === undefined ? [] : Object.entries(models).map(([name, entry]) => ({ name, input: isJson(entry) ? (numberField(entry, 'input_tokens') ?? 0) : 0 }));
  if (entries.length === 0) return concrete;
  if (concrete !== undefined && entries.some(entry => entry.name === concrete)) return concrete;
  const last = entries[entries.length - 1];
  if (failed && last !== undefined && last.input === 0) return last.name;
  return entries.reduce((best, entry) => (entry.input >= best.input ? entry : best)).name;
}

/** input_tokens counts every prompt token read (cached ones too); the stats sum every model's calls. */
function tokensOfStats(stats: Json): AgentReport['tokens'] {
  const input = numberField(stats, 'input_tokens');
  const output = numberField(stats, 'output_tokens');
  const total = numberField(stats, 'total_tokens');
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return {
    ...(input === undefined ? {} : { input }),
    ...(output === undefined ? {} : { output }),
    ...(total === undefined ? {} : { total }),
  };
}

// ---------------------------------------------------------------------------------------------------
// errors

/** The client's own fatal error classes (result.error.type) that a person must fix in the config. */
const KIND_BY_ERROR_TYPE: Readonly<Record<string, AgentErrorKind>> = {
  FatalAuthenticationError: 'auth',
  FatalConfigError: 'usage',
  FatalInputError: 'usage',
  FatalSandboxError: 'usage',
  FatalUntrustedWorkspaceError: 'usage',
};

/** Its exit codes for failures before any API call (FatalError subclasses), read when stdout has no result. */
const KIND_BY_EXIT_CODE: Readonly<Record<number, AgentErrorKind>> = {
  41: 'auth', // FatalAuthenticationError: no key, an auth type it refuses
  42: 'usage', // FatalInputError: no prompt
  44: 'usage', // FatalSandboxError
  52: 'usage', // FatalConfigError: a broken settings.json
  55: 'usage', // FatalUntrustedWorkspaceError
};

/** Words of a request that never got an HTTP answer (the client says "fetch failed sending request"). */
const NETWORK_WORDS = /fetch failed|econnrefused|econnreset|etimedout|enotfound|eai_again|socket hang up|und_err|network/i;

/** Words of a quota or rate limit, for a 429 whose status the message does not carry. */
const LIMIT_WORDS = /resource_exhausted|quota|rate limit|too many requests|please wait and try again later/i;

/**
 * A result of status error. Its message is the client's ("[API Error: {json body}]" for most statuses,
 * "[API Error: <message>\nSuggested retry after 7s.]" for a 429); the status is in that JSON, else in
 * stderr ("status: 429", "code: 404"), else in the exit code, which is the status modulo 256 (401 → 145,
 * 429 → 173, 500 → 244; a 404 exits 1).
 */
function errorOfResult(result: Json, state: ParseState, stderr: string, exitCode: number | null): AgentError {
  const error = jsonField(result, 'error');
  const type = error === undefined ? undefined : stringField(error, 'type');
  const text = (error === undefined ? undefined : stringField(error, 'message')) ?? state.lastErrorEvent ?? `gemini ended with status ${String(result['status'])}`;
  const status = statusOf(text, stderr, exitCode);
  const typed = type === undefined ? undefined : KIND_BY_ERROR_TYPE[type];
  const kind = typed ?? (status !== undefined ? kindOfStatus(status) : NETWORK_WORDS.test(text) ? 'network' : LIMIT_WORDS.test(text) ? 'rate_limit' : 'other');
  const retryAfter = kind === 'rate_limit' ? retryAfterOf(`${text}\n${stderr}`) : undefined;
  return {
    kind,
    message: oneLine(apiMessage(text)),
    ...(status === undefined ? {} : { status }),
    ...(retryAfter === undefined ? {} : { retry_after_s: retryAfter }),
  };
}

function statusOf(text: string, stderr: string, exitCode: number | null): number | undefined {
  const inBody = /"code"\s*:\s*(\d{3})\b/.exec(text);
  if (inBody?.[1] !== undefined) return Number(inBody[1]);
  // The error object it dumps: "status: 429" (an ApiError), "code: 404" (ModelNotFoundError, exit 1).
  const inStderr = [...stripAnsi(stderr).matchAll(/^\s*(?:status|code):\s*(\d{3})\b/gm)].at(-1);
  if (inStderr?.[1] !== undefined) return Number(inStderr[1]);
  // process.exit(status) keeps the low 8 bits: 144..255 are 400..511. The client's own codes are below.
  if (exitCode !== null && exitCode >= 144 && exitCode <= 255) return exitCode + 256;
  return undefined;
}

/** The delay the client read from the API's RetryInfo ("Suggested retry after 7s.", "Please retry in 7.2s"). */
function retryAfterOf(text: string): number | undefined {
  const match = /(?:Suggested retry after|Please retry in)\s+([\d.]+)\s*(ms|s)\b/i.exec(text) ?? /retryDelayMs:\s*(\d+)()/.exec(text);
  if (match?.[1] === undefined) return undefined;
  const value = Number(match[1]);
  if (!Number.isFinite(value)) return undefined;
  return Math.ceil(match[2] === 's' ? value : value / 1000);
}

/** "[API Error: {"error":{"message":"…"}}]" → the API's own message, when the body is JSON. */
function apiMessage(text: string): string {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start >= 0 && end > start) {
    try {
      const body: unknown = JSON.parse(text.slice(start, end + 1));
      const inner = isJson(body) ? jsonField(body, 'error') : undefined;
      const message = inner === undefined ? undefined : stringField(inner, 'message');
      if (message !== undefined) return `API error: ${message}`;
    } catch {
      // Not JSON: the text as it is.
    }
  }
  return text.replace(/^\[API Error: /, 'API error: ').replace(/\]$/m, '');
}

/**
 * No result event: the client refused its arguments (yargs: exit 1, "Unknown arguments: …" or
 * "Invalid values: …" on stderr, then the help), failed before the first API call (FatalError exit
 * codes), crashed, or was killed.
 */
function errorWithoutResult(stderr: string, exitCode: number | null): AgentError {
  const lines = stripAnsi(stderr)
    .split('\n')
    .map(line => line.trim());
  const refusal = usageRefusal(lines);
  if (refusal !== undefined) return { kind: 'usage', message: oneLine(refusal) };
  const meaningful = lines.filter(line => line !== '' && !/^(Warning: 256-color|Ripgrep is not available|\[STARTUP\]|at )/.test(line));
  const known = exitCode === null ? undefined : KIND_BY_EXIT_CODE[exitCode];
  // A fatal error says what is wrong first and how to fix it after; anything else ends with its cause.
  const line = known === undefined ? meaningful.at(-1) : meaningful[0];
  const ending = exitCode === null ? 'was stopped by a signal' : `exited with code ${exitCode}`;
  const message = oneLine(line ?? `gemini ${ending} without a result`);
  if (known !== undefined) return { kind: known, message };
  return { kind: line !== undefined && NETWORK_WORDS.test(line) ? 'network' : 'other', message };
}

/** yargs' refusals, up to the "Usage:" of the help it prints after them. */
const YARGS_REFUSAL = /^(Unknown arguments?:|Unknown command|Invalid values?:|Not enough arguments following|Missing required argument|Too many arguments|Implications failed|Arguments? .* mutually exclusive|Cannot use both|The flags .* are mutually exclusive|The --worktree flag)/;

function usageRefusal(lines: readonly string[]): string | undefined {
  const first = lines.findIndex(line => YARGS_REFUSAL.test(line));
  if (first < 0) return undefined;
  const usage = lines.findIndex((line, index) => index > first && /^Usage: /.test(line));
  return lines
    .slice(first, usage < 0 ? first + 3 : usage)
    .filter(line => line !== '')
    .join(' ');
}

// ---------------------------------------------------------------------------------------------------
// render

export function renderGemini(line: string): RenderedLine[] {
  const trimmed = line.trim();
  if (trimmed === '') return [];
  const event = readEvent(trimmed);
  if (event === undefined) return [{ kind: 'info', text: clip(stripAnsi(trimmed)) }];
  switch (event['type']) {
    case 'init': {
      const model = stringField(event, 'model');
      const session = stringField(event, 'session_id');
      const parts = ['gemini', model, session === undefined ? undefined : `session ${session}`];
      return [{ kind: 'info', text: parts.filter(part => part !== undefined).join(' · ') }];
    }
    case 'message': {
      const content = stringField(event, 'content');
      if (event['role'] !== 'assistant' || content === undefined || content.trim() === '') return [];
      return [{ kind: 'text', text: content.trim() }];
    }
    case 'tool_use': {
      const name = stringField(event, 'tool_name') ?? 'tool';
      const detail = toolDetail(jsonField(event, 'parameters') ?? {});
      return [{ kind: 'tool', text: detail === '' ? name : `${name} ${detail}` }];
    }
    case 'tool_result': {
      const failed = event['status'] === 'error';
      const error = jsonField(event, 'error');
      const text = failed ? (error === undefined ? undefined : stringField(error, 'message')) : stringField(event, 'output');
      return [{ kind: failed ? 'error' : 'tool', text: `  ↳ ${failed ? 'error: ' : ''}${clip(text ?? '') || (failed ? 'failed' : 'ok')}` }];
    }
    case 'error': {
      const message = stringField(event, 'message') ?? 'error';
      return [{ kind: event['severity'] === 'warning' ? 'info' : 'error', text: clip(message) }];
    }
    case 'result':
      return renderResult(event);
    default:
      return [];
  }
}

/** What a person needs to know about a tool call: its file, command, pattern or address. */
function toolDetail(parameters: Json): string {
  for (const key of ['file_path', 'dir_path', 'path', 'command', 'pattern', 'url', 'query', 'description']) {
    const value = stringField(parameters, key);
    if (value !== undefined) return clip(value);
  }
  return Object.keys(parameters).length === 0 ? '' : clip(JSON.stringify(parameters));
}

function renderResult(event: Json): RenderedLine[] {
  const stats = jsonField(event, 'stats');
  const tokens = stats === undefined ? undefined : tokensOfStats(stats);
  const ms = stats === undefined ? undefined : numberField(stats, 'duration_ms');
  const tools = stats === undefined ? undefined : numberField(stats, 'tool_calls');
  const facts = [
    tools === undefined ? undefined : `${tools} tool call${tools === 1 ? '' : 's'}`,
    ms === undefined || ms === 0 ? undefined : `${(ms / 1000).toFixed(1)} s`,
    tokens === undefined ? undefined : `${tokens.input ?? 0} in / ${tokens.output ?? 0} out`,
  ].filter(fact => fact !== undefined);
  const tail = facts.length > 0 ? ` · ${facts.join(' · ')}` : '';
  if (event['status'] === 'success') return [{ kind: 'result', text: `done${tail}` }];
  const error = jsonField(event, 'error');
  const why = (error === undefined ? undefined : stringField(error, 'message')) ?? String(event['status'] ?? 'error');
  return [{ kind: 'error', text: `failed: ${oneLine(apiMessage(why))}${tail}` }];
}

// ---------------------------------------------------------------------------------------------------
// small readers: every field is checked, so no shape of input can throw

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

