// The agents folder's one door: the adapter for a phase's provider, and how a phase's result is found
// in what the client left behind (PRODUCT.md §13).
import { aiderAdapter } from './aider.js';
import { claudeCodeAdapter } from './claude-code.js';
import { codexAdapter } from './codex.js';
import { commandAdapter } from './command.js';
import { geminiAdapter } from './gemini.js';
import { phaseAgent } from './providers.js';
import type { AgentAdapter, AgentProvider } from './types.js';

export type { AgentAdapter, AgentError, AgentErrorKind, AgentInvocation, AgentProvider, AgentReport, RenderedLine } from './types.js';
export { AGENT_ERROR_KINDS, AGENT_PROVIDERS, PROVIDER_ALIASES } from './types.js';
export { lastFencedJson } from './fenced-result.js';
export { knownProvider, phaseAgent } from './providers.js';
export { quietCommand, type QuietCommand } from './quiet-command.js';
export { DECISION_PHASES, isDecisionPhase, resolvePhaseResult, type PhaseResult } from './phase-result.js';

const ADAPTERS: { readonly [P in AgentProvider]: AgentAdapter } = {
  claude_code: claudeCodeAdapter,
  codex: codexAdapter,
  gemini: geminiAdapter,
  aider: aiderAdapter,
  command: commandAdapter,
};

/**
 * The adapter of a phase: its provider's when orch knows it, else `command` (a provider name orch does
 * not know, such as `claude_api`, is a label for the run log and nothing more).
 */
export function adapterFor(provider: string | undefined): AgentAdapter {
  return ADAPTERS[phaseAgent(provider)];
}

/** Every adapter of an agent CLI (not `command`), for doctor and init. */
export const AGENT_ADAPTERS: readonly AgentAdapter[] = [claudeCodeAdapter, codexAdapter, geminiAdapter, aiderAdapter];
