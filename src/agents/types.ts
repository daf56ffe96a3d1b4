// The contract every agent CLI adapter keeps (PRODUCT.md §13). An adapter knows one client's flags
// (prompt, model, permissions, a machine-readable output mode) and reads that client's own output into
// an AgentReport. Everything here is pure: argv in, bytes in, data out. The runtime does the I/O.
import type { PhaseName } from '../generated/types.js';

/** The providers orch knows; `command` is any other program (no parsing beyond the result file). */
export const AGENT_PROVIDERS = {
  claude_code: 'claude_code',
  codex: 'codex',
  gemini: 'gemini',
  aider: 'aider',
  command: 'command',
} as const;
export type AgentProvider = (typeof AGENT_PROVIDERS)[keyof typeof AGENT_PROVIDERS];

/** Names older configs used, read as the provider they meant. */
export const PROVIDER_ALIASES: Readonly<Record<string, AgentProvider>> = {
  claude_cli: 'claude_code',
  claude: 'claude_code',
  codex_cli: 'codex',
  gemini_cli: 'gemini',
};

/** What a phase asks of the agent: everything the adapter needs to build its argv. */
export interface AgentInvocation {
  readonly phase: PhaseName;
  /** orch's instruction for the phase (it asks for the result as a fenced ```json block). */
  readonly prompt: string;
  /** The routed model, or undefined to let the client choose. */
  readonly model: string | undefined;
  /** Absolute path of ORCH_RESULT_FILE. */
  readonly resultFile: string;
  /** Absolute path of the attempt's artifacts dir (codex writes its last message there with -o). */
  readonly artifactsDir: string;
  /** The working directory the agent edits. */
  readonly cwd: string;
  /** True for the phases that must decide (plan, plan_review, step_review, code_review). */
  readonly decides: boolean;
  /** Extra arguments from the phase config (`args`), appended before the prompt where the client allows. */
  readonly extraArgs: readonly string[];
}

/** Why a client stopped, as structured as its own output lets us say. */
export const AGENT_ERROR_KINDS = {
  /** A flag the client refused, a bad config: a person must fix it; never retried. */
  usage: 'usage',
  /** 401/403, a missing or invalid key: never retried. */
  auth: 'auth',
  /** 429 or a usage limit: park until the reset, spend no attempt. */
  rate_limit: 'rate_limit',
  /** 5xx, overloaded: retried after a backoff. */
  server: 'server',
  /** Connection refused or reset, DNS, a stream cut: retried after a backoff. */
  network: 'network',
  /** 400, 404, a context too long, anything else the API refused: not retried. */
  request: 'request',
  /** The client said it failed, without saying how. Retried (the rules may still say otherwise). */
  other: 'other',
} as const;
export type AgentErrorKind = (typeof AGENT_ERROR_KINDS)[keyof typeof AGENT_ERROR_KINDS];

export interface AgentError {
  readonly kind: AgentErrorKind;
  /** One line for people, the client's own words where it has them. */
  readonly message: string;
  /** The HTTP status the client reported, if it did. */
  readonly status?: number;
  /** retry-after, in seconds, when the client reported one. */
  readonly retry_after_s?: number;
  /** The rate limit's reset as epoch milliseconds, when the client reported a time. */
  readonly reset_at_ms?: number;
}

/** What an adapter read from the client's own output. Every field is optional: clients differ. */
export interface AgentReport {
  /** The agent's final message (its last assistant text). */
  final_message?: string;
  /** The model the client says it used (which may differ from the one asked for). */
  model?: string;
  /** Cost in USD, where the client reports one (claude does; codex and gemini do not). */
  cost_usd?: number;
  tokens?: { input?: number; output?: number; total?: number };
  /** The client's session or thread id (to resume, and to find its own logs). */
  session_id?: string;
  /** A result the client produced in a structured channel (codex --output-schema), parsed JSON. */
  structured?: unknown;
  /** Set when the client reported a failure. */
  error?: AgentError;
  /** How many events the output held (a sign of life, and for tests). */
  events?: number;
}

/** One line of a live view: what a person sees in `orch tail -f`. */
export interface RenderedLine {
  readonly kind: 'text' | 'tool' | 'result' | 'error' | 'info';
  readonly text: string;
}

export interface AgentAdapter {
  readonly provider: AgentProvider;
  /** The executable's name on PATH (`claude`, `codex`, `gemini`, `aider`). */
  readonly binary: string;
  /** The client versions this adapter was tested against (README and `orch doctor` name them). */
  readonly testedVersions: readonly string[];
  /**
   * True when the output mode this adapter asks for emits events while the agent works, so a stall
   * timeout measures real silence. False: the client prints only at the end, and no stall timeout applies by default.
   */
  readonly streams: boolean;
  /** Environment variables that hold the client's credentials (any one is enough), for `orch doctor`. */
  readonly credentialVars: readonly string[];
  /**
   * Environment defaults for the client, applied only where the user's environment (or the phase's
   * `env`) does not set the variable: e.g. fewer retries inside the client, so orch's own classification
   * and backoff decide (Claude Code retries a 401 for minutes by default).
   */
  readonly envDefaults?: Readonly<Record<string, string>>;
  /** The full argv (binary first) for one phase. */
  argv(invocation: AgentInvocation): string[];
  /** Reads the client's stdout (and stderr) after it ended, with its exit code. Pure; never throws. */
  parse(stdout: string, stderr: string, exitCode: number | null): AgentReport;
  /** Renders one line of the client's stdout for a person; [] for lines not worth showing. Pure; never throws. */
  render(line: string): RenderedLine[];
}
