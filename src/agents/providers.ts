// Which provider a config's `provider` names. Pure, and free of the adapters themselves, so the
// workflow resolver (src/machine, which does no I/O and knows no client) can ask it.
import { AGENT_PROVIDERS, PROVIDER_ALIASES, type AgentProvider } from './types.js';

/** A known provider, an old alias of one (claude_cli → claude_code), else undefined. */
export function knownProvider(name: string | undefined): AgentProvider | undefined {
  if (name === undefined) return undefined;
  if (Object.hasOwn(AGENT_PROVIDERS, name)) return name as AgentProvider;
  return Object.hasOwn(PROVIDER_ALIASES, name) ? PROVIDER_ALIASES[name] : undefined;
}

/** The provider whose adapter runs a phase: a known agent CLI, else `command`. */
export function phaseAgent(provider: string | undefined): AgentProvider {
  return knownProvider(provider) ?? 'command';
}
