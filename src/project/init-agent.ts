// What `orch init --agent` puts in the config (PRODUCT.md §13): a workflow the chosen agent CLI runs as
// is, through its adapter (which knows its flags, its permission mode and its output), and quality-gate
// checks only for scripts the project really has: a check that cannot run would only send work back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentProvider } from '../agents/types.js';
import { commandExists } from '../config/load-config.js';
import type { Argv, Workflow } from '../generated/types.js';

/** The agent names `orch init --agent` takes, with the provider and client each means. */
export const INIT_AGENTS = {
  claude: { provider: 'claude_code', binary: 'claude', model: 'claude-sonnet-4-5' },
  codex: { provider: 'codex', binary: 'codex', model: undefined },
  gemini: { provider: 'gemini', binary: 'gemini', model: undefined },
} as const satisfies Record<string, { provider: AgentProvider; binary: string; model: string | undefined }>;
export type InitAgentName = keyof typeof INIT_AGENTS | 'none';
export const INIT_AGENT_NAMES: readonly InitAgentName[] = [...(Object.keys(INIT_AGENTS) as (keyof typeof INIT_AGENTS)[]), 'none'];

export interface AgentChoice {
  readonly agent: InitAgentName;
  /** How it was chosen, for the one line init prints. */
  readonly why: 'asked' | 'found on PATH' | 'no agent CLI on PATH';
}

/** The agent asked for, else the first agent CLI on PATH (claude, codex, gemini), else none. */
export function chooseAgent(asked: InitAgentName | undefined, root: string, env: NodeJS.ProcessEnv = process.env): AgentChoice {
  if (asked !== undefined) return { agent: asked, why: 'asked' };
  for (const name of Object.keys(INIT_AGENTS) as (keyof typeof INIT_AGENTS)[]) {
    if (commandExists(INIT_AGENTS[name].binary, root, env)) return { agent: name, why: 'found on PATH' };
  }
  return { agent: 'none', why: 'no agent CLI on PATH' };
}

/** npm's placeholder test script: present in every `npm init`, and always failing. */
const NPM_PLACEHOLDER_TEST = /no test specified/;

/** Quality-gate checks for the scripts package.json really has (test, lint, typecheck). */
export function detectChecks(root: string): Record<string, Argv> {
  let scripts: Record<string, unknown> = {};
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, unknown> };
    scripts = manifest.scripts ?? {};
  } catch {
    return {}; // no package.json (or an unreadable one): no checks orch could be sure of
  }
  const checks: Record<string, Argv> = {};
  const test = scripts.test;
  if (typeof test === 'string' && !NPM_PLACEHOLDER_TEST.test(test)) checks.test = ['npm', 'test'];
  for (const name of ['lint', 'typecheck']) if (typeof scripts[name] === 'string') checks[name] = ['npm', 'run', name];
  return checks;
}

/** The default workflow for `agent`: plan, implement and review with the agent, then the checks. */
export function agentWorkflow(agent: InitAgentName, checks: Record<string, Argv>): Workflow {
  const gate = Object.keys(checks).length > 0 ? { quality_gate: { checks } } : {};
  if (agent === 'none') {
    // No agent: each task is one step of a command the person fills in; until then the checks run.
    return { ...gate, on_exhausted: 'human' };
  }
  const { provider, model } = INIT_AGENTS[agent];
  const phase = { provider, ...(model === undefined ? {} : { model }) };
  return {
    plan: phase,
    implement: { ...phase, retry: { max_attempts: 3 } },
    code_review: phase,
    ...gate,
    on_exhausted: 'human',
  };
}
