// What a client's structured error means for the task (PRODUCT.md §13): read before any text rule, since
// the client knows better than a pattern whether it was refused (401), throttled (429) or broke (5xx).
import { RATE_LIMIT_FALLBACK_MS } from '../retry/defaults.js';
import type { AgentError } from './types.js';

/** A reset further away than this is taken as this (a garbled number must not park for years). */
export const MAX_CLIENT_RESET_MS = 7 * 24 * 3_600_000;

export interface AgentErrorClass {
  readonly retryable: boolean;
  /** A person must fix the config (a refused flag): the task waits for one at once. */
  readonly config_problem: boolean;
  /** Park until then, spending no attempt. */
  readonly rate_limited_until?: number;
  /** For the run log: which signal decided. */
  readonly matched: string;
}

export function classifyAgentError(error: AgentError, now: number): AgentErrorClass {
  const status = error.status === undefined ? '' : ` ${error.status}`;
  const matched = `client error ${error.kind}${status}`;
  switch (error.kind) {
    case 'usage':
      return { retryable: false, config_problem: true, matched };
    case 'auth':
    case 'request':
      return { retryable: false, config_problem: false, matched };
    case 'rate_limit': {
      const reset =
        error.reset_at_ms ?? (error.retry_after_s === undefined ? undefined : now + error.retry_after_s * 1000);
      const until = reset === undefined ? now + RATE_LIMIT_FALLBACK_MS : Math.min(Math.max(reset, now), now + MAX_CLIENT_RESET_MS);
      return { retryable: true, config_problem: false, rate_limited_until: until, matched };
    }
    case 'server':
    case 'network':
    case 'other':
      return { retryable: true, config_problem: false, matched };
    default: {
      const never: never = error.kind;
      return never;
    }
  }
}

/**
 * A usage error the adapter did not name: argument parsers (clap, commander, yargs, argparse) exit 2
 * and say so in these words on stderr.
 */
const USAGE_WORDS = /unexpected argument|unknown (option|argument|flag)|unrecognized (option|argument)|invalid (option|value for)|for more information, try '--help'/i;

export function usageErrorOf(exitCode: number | null, stderrTail: string): AgentError | undefined {
  if (exitCode !== 2 || !USAGE_WORDS.test(stderrTail)) return undefined;
  const line = stderrTail.split('\n').map(l => l.trim()).find(l => /error/i.test(l) && l !== '') ?? stderrTail.trim().split('\n')[0] ?? '';
  return { kind: 'usage', message: line.slice(0, 500) };
}
