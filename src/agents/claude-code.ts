// The Claude Code adapter (`claude`, tested on 2.1.197). It runs the client headless with its
// stream-json output, one JSON event per line while the agent works, and reads those events back into
// an AgentReport. specs/agents/claude-code.md holds the shapes these functions rely on.
import { dirname } from 'node:path';
import type { AgentAdapter, AgentError, AgentErrorKind, AgentInvocation, AgentReport, RenderedLine } from './types.js';
import { clip, isInside, isJson, jsonField, kindOfStatus, numberField, oneLine, readEvent, stringField, type Json } from './read-output.js';

/**
 * acceptEdits lets the Write and Edit tools change files under cwd (and under any --add-dir) without
 * asking, which a headless run cannot do. Bash commands that need approval are refused, not asked.
 */
export const CLAUDE_CODE_PERMISSION_MODE = 'acceptEdits';

export const claudeCodeAdapter: AgentAdapter = {
  provider: 'claude_code',
  binary: 'claude',
  testedVersions: ['2.1.197'],
  streams: true,
  // ANTHROPIC_AUTH_TOKEN is the bearer token for gateways; CLAUDE_CODE_OAUTH_TOKEN comes from
  // `claude setup-token`. A `claude /login` session lives in ~/.claude and has no variable at all.
  credentialVars: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN'],
  // The client's default is 10 retries, 401s included (minutes inside one attempt): orch retries with
  // its own backoff. One retry stays, because only a retry prints the 429's retry-after (api_retry).
  envDefaults: { CLAUDE_CODE_MAX_RETRIES: '1' },
  argv: claudeCodeArgv,
  parse: parseClaudeCode,
  render: renderClaudeCode,
};

export function claudeCodeArgv(invocation: AgentInvocation): string[] {
  const args = ['claude', '-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', CLAUDE_CODE_PERMISSION_MODE];
  // acceptEdits refuses a write outside cwd ("Claude requested permissions to write to ..."): when the
  // result file lives elsewhere (a task worktree outside the repo), its folder is added explicitly.
  if (!isInside(invocation.resultFile, invocation.cwd)) args.push('--add-dir', dirname(invocation.resultFile));
  if (invocation.model !== undefined && invocation.model !== '') args.push('--model', invocation.model);
  // `--` ends the options (and variadic ones such as --add-dir or --allowedTools in extraArgs), so a
  // prompt that starts with '-' is read as the prompt.
  args.push(...invocation.extraArgs, '--', invocation.prompt);
  return args;
}

// ---------------------------------------------------------------------------------------------------
// parse

interface ParseState {
  events: number;
  sessionId?: string;
  initModel?: string;
  assistantModel?: string;
  /** The last assistant text of the agent (not a synthetic error message of the client). */
  lastText?: string;
  /** The last synthetic message the client wrote for an API error, with its own category. */
  assistantError?: { category: string; text: string };
  /** The last `system/api_retry` event: the client is retrying an API error. */
  lastRetry?: { status?: number; delayMs?: number; category?: string };
  /** A rate limit's reset from a `rate_limit_event` (claude.ai subscriptions only). */
  resetAtMs?: number;
  result?: Json;
  /** Usage per API message id (a streamed message is printed once per content block). */
  usageByMessage: Map<string, Json>;
}

export function parseClaudeCode(stdout: string, stderr: string, exitCode: number | null): AgentReport {
  const state: ParseState = { events: 0, usageByMessage: new Map() };
  for (const line of stdout.split('\n')) {
    const event = readEvent(line);
    if (event !== undefined) readInto(state, event);
  }
  const report: AgentReport = { events: state.events };
  const result = state.result;
  const resultText = result === undefined ? undefined : stringField(result, 'result');
  const failed = result !== undefined && (result['is_error'] === true || (stringField(result, 'subtype') ?? '').startsWith('error'));
  const finalMessage = result !== undefined && !failed && resultText !== undefined ? resultText : state.lastText;
  if (finalMessage !== undefined) report.final_message = finalMessage;
  const model = state.initModel ?? (result === undefined ? undefined : mainModel(result)) ?? state.assistantModel;
  if (model !== undefined) report.model = model;
  const cost = result === undefined ? undefined : numberField(result, 'total_cost_usd');
  if (cost !== undefined) report.cost_usd = cost;
  const tokens = result === undefined ? tokensOfMessages(state.usageByMessage) : tokensOfResult(result);
  if (tokens !== undefined) report.tokens = tokens;
  const sessionId = state.sessionId ?? (result === undefined ? undefined : stringField(result, 'session_id'));
  if (sessionId !== undefined) report.session_id = sessionId;
  const error = failed ? errorOfResult(result, state) : result === undefined ? errorWithoutResult(state, stderr, exitCode) : undefined;
  if (error !== undefined) report.error = error;
  return report;
}

function readInto(state: ParseState, event: Json): void {
  state.events++;
  const sessionId = stringField(event, 'session_id');
  if (state.sessionId === undefined && sessionId !== undefined) state.sessionId = sessionId;
  switch (event['type']) {
    case 'system':
      return readSystem(state, event);
    case 'assistant':
      return readAssistant(state, event);
    case 'rate_limit_event': {
      const info = jsonField(event, 'rate_limit_info');
      const resetsAt = info === undefined ? undefined : numberField(info, 'resetsAt');
      if (info !== undefined && info['status'] === 'rejected' && resetsAt !== undefined) state.resetAtMs = resetsAt * 1000;
      return;
    }
    case 'result':
      state.result = event;
      return;
    default:
      return;
  }
}

function readSystem(state: ParseState, event: Json): void {
  const subtype = event['subtype'];
  if (subtype === 'init') {
    const model = stringField(event, 'model');
    if (model !== undefined) state.initModel = model;
  } else if (subtype === 'api_retry') {
    const status = numberField(event, 'error_status');
    const delayMs = numberField(event, 'retry_delay_ms');
    const category = stringField(event, 'error');
    state.lastRetry = {
      ...(status === undefined ? {} : { status }),
      ...(delayMs === undefined ? {} : { delayMs }),
      ...(category === undefined ? {} : { category }),
    };
  }
}

function readAssistant(state: ParseState, event: Json): void {
  const message = jsonField(event, 'message');
  if (message === undefined) return;
  const text = textOfContent(message['content']);
  const category = stringField(event, 'error');
  const model = stringField(message, 'model');
  // The client reports an API failure as an assistant message of model "<synthetic>" with `error` set.
  if (category !== undefined || model === '<synthetic>') {
    if (category !== undefined) state.assistantError = { category, text: text ?? category };
    return;
  }
  if (model !== undefined) state.assistantModel = model;
  if (text !== undefined) state.lastText = text;
  const id = stringField(message, 'id');
  const usage = jsonField(message, 'usage');
  if (id !== undefined && usage !== undefined) state.usageByMessage.set(id, usage);
}

function textOfContent(content: unknown): string | undefined {
  if (!Array.isArray(content)) return typeof content === 'string' ? content : undefined;
  const texts = content.filter(isJson).flatMap(block => (block['type'] === 'text' && typeof block['text'] === 'string' ? [block['text']] : []));
  return texts.length === 0 ? undefined : texts.join('\n');
}

/** The model that did the work when init did not say: the modelUsage entry with the most output. */
function mainModel(result: Json): string | undefined {
  const usage = jsonField(result, 'modelUsage');
  if (usage === undefined) return undefined;
  let best: { model: string; output: number } | undefined;
  for (const [model, entry] of Object.entries(usage)) {
    const output = isJson(entry) ? (numberField(entry, 'outputTokens') ?? 0) : 0;
    if (best === undefined || output > best.output) best = { model, output };
  }
  return best?.model;
}

/**
 * Input tokens count everything the model read: fresh input plus cache writes and cache reads (each is
 * billed, at different rates; total_cost_usd already prices them). The result's `usage` covers the
 * session; modelUsage adds the client's side calls on other models, so it is preferred when present.
 */
function tokensOfResult(result: Json): AgentReport['tokens'] {
  const byModel = jsonField(result, 'modelUsage');
  const entries = byModel === undefined ? [] : Object.values(byModel).filter(isJson);
  if (entries.length > 0) {
    const sum = (key: string): number => entries.reduce((total, entry) => total + (numberField(entry, key) ?? 0), 0);
    return withTotal(sum('inputTokens') + sum('cacheReadInputTokens') + sum('cacheCreationInputTokens'), sum('outputTokens'));
  }
  const usage = jsonField(result, 'usage');
  return usage === undefined ? undefined : tokensOfUsage([usage]);
}

/** A run that ended without its result (killed): what its streamed messages reported. */
function tokensOfMessages(usageByMessage: Map<string, Json>): AgentReport['tokens'] {
  return usageByMessage.size === 0 ? undefined : tokensOfUsage([...usageByMessage.values()]);
}

function tokensOfUsage(usages: readonly Json[]): AgentReport['tokens'] {
  const sum = (key: string): number => usages.reduce((total, usage) => total + (numberField(usage, key) ?? 0), 0);
  return withTotal(sum('input_tokens') + sum('cache_creation_input_tokens') + sum('cache_read_input_tokens'), sum('output_tokens'));
}

function withTotal(input: number, output: number): NonNullable<AgentReport['tokens']> {
  return { input, output, total: input + output };
}

// ---------------------------------------------------------------------------------------------------
// errors

/** The client's own category of an API failure (`error` on its synthetic assistant message) → ours. */
const KIND_BY_CATEGORY: Readonly<Record<string, AgentErrorKind>> = {
  authentication_failed: 'auth',
  oauth_org_not_allowed: 'auth',
  rate_limit: 'rate_limit',
  overloaded: 'server',
  server_error: 'server',
  billing_error: 'request',
  invalid_request: 'request',
  model_not_found: 'request',
  max_output_tokens: 'request',
  unknown: 'other',
};

/** Words the client uses when it never got an HTTP answer (it files these under server_error). */
const NETWORK_WORDS = /unable to connect|connection (?:refused|reset|error)|econn|enotfound|eai_again|socket|timed out|timeout|fetch failed|network/i;

/** Words of a subscription's usage limit, which carries no status in the output. */
const LIMIT_WORDS = /usage limit|hit your .{0,40}limit|rate limit/i;

function errorOfResult(result: Json, state: ParseState): AgentError {
  const status = numberField(result, 'api_error_status') ?? state.lastRetry?.status;
  const subtype = stringField(result, 'subtype') ?? 'error';
  const text = stringField(result, 'result') ?? state.assistantError?.text ?? errorsOf(result) ?? `claude ended with ${subtype}`;
  const kind = status !== undefined ? kindOfStatus(status) : kindOfText(state.assistantError?.category, text);
  return withRateLimit({ kind, message: oneLine(text), ...(status === undefined ? {} : { status }) }, state);
}

/** The `errors` list of an error result (error_max_turns, error_max_budget_usd, ...), joined. */
function errorsOf(result: Json): string | undefined {
  const errors = Array.isArray(result['errors']) ? result['errors'].filter(item => typeof item === 'string') : [];
  return errors.length === 0 ? undefined : errors.join('; ');
}

function kindOfText(category: string | undefined, text: string): AgentErrorKind {
  const kind = category === undefined ? undefined : KIND_BY_CATEGORY[category];
  if ((kind === 'server' || kind === undefined) && NETWORK_WORDS.test(text)) return 'network';
  if (kind !== undefined) return kind;
  return LIMIT_WORDS.test(text) ? 'rate_limit' : 'other';
}

/** No result event: the client refused its arguments, crashed, or was killed (perhaps mid-retry). */
function errorWithoutResult(state: ParseState, stderr: string, exitCode: number | null): AgentError | undefined {
  const refusal = usageRefusal(stderr);
  if (refusal !== undefined) return { kind: 'usage', message: refusal };
  if (state.assistantError !== undefined) {
    const { category, text } = state.assistantError;
    return withRateLimit({ kind: kindOfText(category, text), message: oneLine(text) }, state);
  }
  const retry = state.lastRetry;
  if (retry !== undefined) {
    // No status means no HTTP answer (refused, reset, timed out): the client files those as `unknown`.
    const kind = retry.status !== undefined ? kindOfStatus(retry.status) : retry.category === 'overloaded' ? 'server' : 'network';
    const what = retry.status !== undefined ? `API error ${retry.status}` : `API error (${retry.category ?? 'unknown'})`;
    return withRateLimit({ kind, message: `${what}: claude was retrying when it stopped`, ...(retry.status === undefined ? {} : { status: retry.status }) }, state);
  }
  const lastLine = stderr.trim().split('\n').at(-1)?.trim();
  const ending = exitCode === null ? 'was stopped by a signal' : `exited with code ${exitCode}`;
  return { kind: 'other', message: lastLine ? oneLine(lastLine) : `claude ${ending} without a result` };
}

/**
 * The client's argument errors go to stderr before any event: commander's `error: unknown option
 * '--bogus'` or `error: option '--model <model>' argument missing`, and its own checks such as
 * `Error: When using --print, --output-format=stream-json requires --verbose`.
 */
function usageRefusal(stderr: string): string | undefined {
  const lines = stderr.split('\n').map(line => line.trim());
  return lines.find(line => /^error: /.test(line) || /^Error: .*(?:--[a-z]|option|argument|requires)/.test(line));
}

/** A rate limit carries the client's retry delay for it (retry-after when the server sent one). */
function withRateLimit(error: AgentError, state: ParseState): AgentError {
  if (error.kind !== 'rate_limit') return error;
  const delayMs = state.lastRetry?.status === 429 ? state.lastRetry.delayMs : undefined;
  return {
    ...error,
    ...(delayMs === undefined ? {} : { retry_after_s: Math.ceil(delayMs / 1000) }),
    ...(state.resetAtMs === undefined ? {} : { reset_at_ms: state.resetAtMs }),
  };
}

// ---------------------------------------------------------------------------------------------------
// render

export function renderClaudeCode(line: string): RenderedLine[] {
  const trimmed = line.trim();
  if (trimmed === '') return [];
  const event = readEvent(trimmed);
  if (event === undefined) return [{ kind: 'info', text: clip(trimmed) }];
  switch (event['type']) {
    case 'system':
      return renderSystem(event);
    case 'assistant':
      return renderAssistant(event);
    case 'user':
      return renderToolResults(event);
    case 'result':
      return renderResult(event);
    case 'rate_limit_event': {
      const info = jsonField(event, 'rate_limit_info');
      const resetsAt = info === undefined ? undefined : numberField(info, 'resetsAt');
      if (info === undefined || info['status'] !== 'rejected') return [];
      return [{ kind: 'error', text: `rate limited${resetsAt === undefined ? '' : ` until ${new Date(resetsAt * 1000).toISOString()}`}` }];
    }
    default:
      return [];
  }
}

function renderSystem(event: Json): RenderedLine[] {
  switch (event['subtype']) {
    case 'init': {
      const version = stringField(event, 'claude_code_version');
      const model = stringField(event, 'model');
      const session = stringField(event, 'session_id');
      const parts = [`claude${version === undefined ? '' : ` ${version}`}`, model, session === undefined ? undefined : `session ${session}`];
      return [{ kind: 'info', text: parts.filter(part => part !== undefined).join(' · ') }];
    }
    case 'api_retry': {
      const status = numberField(event, 'error_status');
      const delayMs = numberField(event, 'retry_delay_ms');
      const attempt = numberField(event, 'attempt');
      const max = numberField(event, 'max_retries');
      const what = `API error ${status ?? stringField(event, 'error') ?? ''}`.trim();
      const when = delayMs === undefined ? '' : ` in ${(delayMs / 1000).toFixed(1)} s`;
      const which = attempt === undefined ? '' : ` (${attempt}${max === undefined ? '' : `/${max}`})`;
      return [{ kind: 'error', text: `${what}, retrying${when}${which}` }];
    }
    default:
      return [];
  }
}

function renderAssistant(event: Json): RenderedLine[] {
  const message = jsonField(event, 'message');
  const content = message === undefined ? undefined : message['content'];
  if (!Array.isArray(content)) return [];
  const failed = stringField(event, 'error') !== undefined;
  return content.filter(isJson).flatMap((block): RenderedLine[] => {
    if (block['type'] === 'text' && typeof block['text'] === 'string') {
      // One RenderedLine per line of text, so a view can prefix and wrap each.
      const lines = block['text'].trim() === '' ? [] : block['text'].trimEnd().split('\n');
      return lines.map(text => ({ kind: failed ? 'error' : 'text', text }));
    }
    if (block['type'] === 'tool_use') {
      const name = stringField(block, 'name') ?? 'tool';
      const detail = toolDetail(name, jsonField(block, 'input') ?? {});
      return [{ kind: 'tool', text: detail === '' ? name : `${name} ${detail}` }];
    }
    return [];
  });
}

/** What a person needs to know about a tool call: its file, command, pattern or address. */
function toolDetail(name: string, input: Json): string {
  const first = (...keys: string[]): string => {
    for (const key of keys) {
      const value = stringField(input, key);
      if (value !== undefined) return clip(value);
    }
    return '';
  };
  switch (name) {
    case 'Write':
    case 'Edit':
    case 'MultiEdit':
    case 'Read':
      return first('file_path');
    case 'NotebookEdit':
      return first('notebook_path');
    case 'Bash':
      return first('command');
    case 'Grep':
    case 'Glob':
      return first('pattern');
    case 'WebFetch':
      return first('url');
    case 'WebSearch':
      return first('query');
    case 'Task':
    case 'Agent':
      return first('description', 'prompt');
    default:
      return first('file_path', 'path', 'command', 'description') || clip(JSON.stringify(input));
  }
}

function renderToolResults(event: Json): RenderedLine[] {
  const message = jsonField(event, 'message');
  const content = message === undefined ? undefined : message['content'];
  if (!Array.isArray(content)) return [];
  return content.filter(isJson).flatMap((block): RenderedLine[] => {
    if (block['type'] !== 'tool_result') return [];
    const text = typeof block['content'] === 'string' ? block['content'] : (textOfContent(block['content']) ?? '');
    const failed = block['is_error'] === true;
    return [{ kind: failed ? 'error' : 'tool', text: `  ↳ ${failed ? 'error: ' : ''}${clip(text) || '(no output)'}` }];
  });
}

function renderResult(event: Json): RenderedLine[] {
  const cost = numberField(event, 'total_cost_usd');
  const turns = numberField(event, 'num_turns');
  const seconds = numberField(event, 'duration_ms');
  const tokens = tokensOfResult(event);
  const facts = [
    turns === undefined ? undefined : `${turns} turn${turns === 1 ? '' : 's'}`,
    seconds === undefined ? undefined : `${(seconds / 1000).toFixed(1)} s`,
    cost === undefined ? undefined : `$${cost.toFixed(4)}`,
    tokens === undefined || tokens.total === 0 ? undefined : `${tokens.input ?? 0} in / ${tokens.output ?? 0} out`,
  ].filter(fact => fact !== undefined);
  const failed = event['is_error'] === true || (stringField(event, 'subtype') ?? '').startsWith('error');
  const lines: RenderedLine[] = [];
  if (failed) {
    const status = numberField(event, 'api_error_status');
    const why = stringField(event, 'result') ?? errorsOf(event) ?? stringField(event, 'subtype') ?? 'error';
    lines.push({ kind: 'error', text: `failed${status === undefined ? '' : ` (${status})`}: ${oneLine(why)}${facts.length > 0 ? ` · ${facts.join(' · ')}` : ''}` });
  } else {
    lines.push({ kind: 'result', text: `done${facts.length > 0 ? ` · ${facts.join(' · ')}` : ''}` });
  }
  const denials = Array.isArray(event['permission_denials']) ? event['permission_denials'].filter(isJson) : [];
  for (const denial of denials) {
    const name = stringField(denial, 'tool_name') ?? 'tool';
    const detail = toolDetail(name, jsonField(denial, 'tool_input') ?? {});
    lines.push({ kind: 'error', text: `permission denied: ${name}${detail === '' ? '' : ` ${detail}`}` });
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// small readers: every field is checked, so no shape of input can throw

