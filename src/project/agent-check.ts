// `orch doctor` on the agent CLIs a config drives (PRODUCT.md §13): is each found, which version is it
// (beside the versions orch was tested with), does its --help still list every flag orch will pass (a
// removed flag, as codex's --full-auto, fails every attempt), and is a credentials variable set.
import { spawnSync } from 'node:child_process';
import { adapterFor, type AgentAdapter } from '../agents/index.js';
import { commandExists } from '../config/load-config.js';
import type { OrchConfig, PhaseName } from '../generated/types.js';

/**
 * How long `--version` or `--help` of a client may take before it counts as not answering. gemini 0.61
 * took 5 to 19 s to answer either on a busy 2-core machine (15 s, the old value, was not enough).
 */
export const PROBE_TIMEOUT_MS = 30_000;

export interface AgentCheck {
  readonly severity: 'error' | 'warning';
  /** Where in the config the client is named, as a JSON pointer. */
  readonly pointer: string;
  readonly message: string;
  readonly action: string;
}

const AGENT_PHASES = ['plan', 'plan_review', 'implement', 'step_review', 'code_review'] as const satisfies readonly PhaseName[];

/** Every distinct (adapter, extra args) the config runs through an adapter, with where it is named. */
function configuredAgents(config: OrchConfig): { adapter: AgentAdapter; args: readonly string[]; pointer: string }[] {
  const seen = new Map<string, { adapter: AgentAdapter; args: readonly string[]; pointer: string }>();
  for (const [name, workflow] of Object.entries(config.workflows ?? {})) {
    for (const phase of AGENT_PHASES) {
      const spec = workflow?.[phase];
      if (spec === undefined || spec.command !== undefined) continue;
      const adapter = adapterFor(spec.provider);
      if (adapter.provider === 'command') continue;
      const args = spec.args ?? [];
      const key = `${adapter.provider} ${JSON.stringify(args)}`;
      if (!seen.has(key)) seen.set(key, { adapter, args, pointer: `/workflows/${name}/${phase}` });
    }
  }
  return [...seen.values()];
}

/** What a probe printed; `failure` says why it gave no answer (timed out, killed, could not start). */
function probe(argv: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): { text: string; failure?: string } {
  const result = spawnSync(argv[0] ?? '', argv.slice(1), { env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return { text, failure: `did not answer within ${timeoutMs / 1000} s` };
  if (result.error !== undefined) return { text, failure: `could not be run (${code ?? result.error.message})` };
  if (result.signal !== null) return { text, failure: `was stopped by ${result.signal}` };
  return { text };
}

/** The long flags of an argv (`--model`, `--output-format`), values and the prompt left out. */
export function longFlags(argv: readonly string[]): string[] {
  return [...new Set(argv.filter(arg => /^--[a-z][a-z0-9-]*(=.*)?$/i.test(arg)).map(arg => arg.split('=')[0] ?? arg))];
}

export function checkAgents(config: OrchConfig, root: string, env: NodeJS.ProcessEnv = process.env, probeTimeoutMs = PROBE_TIMEOUT_MS): AgentCheck[] {
  const checks: AgentCheck[] = [];
  const versions = new Map<string, string>();
  for (const { adapter, args, pointer } of configuredAgents(config)) {
    const where = `${pointer}/provider`;
    if (!commandExists(adapter.binary, root, env)) {
      checks.push({ severity: 'error', pointer: where, message: `the ${adapter.provider} client "${adapter.binary}" is not found on PATH`, action: `install it (tested: ${adapter.binary} ${adapter.testedVersions.join(', ') || 'no version: not tested here'})` });
      continue;
    }
    if (!versions.has(adapter.binary)) {
      const version = probe([adapter.binary, '--version'], env, probeTimeoutMs);
      const found = /\d+\.\d+\.\d+/.exec(version.text)?.[0] ?? 'unknown';
      versions.set(adapter.binary, found);
      if (version.failure !== undefined) {
        checks.push({ severity: 'warning', pointer: where, message: `\`${adapter.binary} --version\` ${version.failure}: its version is not known`, action: `run \`${adapter.binary} --version\` by hand, then \`orch doctor\` again` });
      } else if (adapter.testedVersions.length > 0 && !adapter.testedVersions.includes(found)) {
        checks.push({ severity: 'warning', pointer: where, message: `${adapter.binary} is version ${found}; orch was tested with ${adapter.testedVersions.join(', ')}`, action: 'run a task and watch its first attempt, or install a tested version' });
      }
      if (!adapter.credentialVars.some(name => (env[name] ?? '') !== '')) {
        checks.push({ severity: 'warning', pointer: where, message: `none of ${adapter.credentialVars.join(', ')} is set for ${adapter.binary}`, action: `set one, or log the client in (${adapter.binary} may keep its own login)` });
      }
    }
    // The words before the first flag name the (sub)command whose --help lists the flags: `codex exec`.
    const argv = adapter.argv({ phase: 'implement', prompt: 'probe', model: 'probe-model', resultFile: '/dev/null', artifactsDir: '/tmp', cwd: root, decides: false, extraArgs: args });
    const command = argv.slice(0, Math.max(1, argv.findIndex(arg => arg.startsWith('-'))));
    const help = probe([...command, '--help'], env, probeTimeoutMs);
    // A client that did not answer has said nothing about its flags: that is no proof it would refuse them.
    if (help.failure !== undefined) {
      checks.push({ severity: 'warning', pointer: where, message: `\`${command.join(' ')} --help\` ${help.failure}: the flags orch passes were not checked`, action: `run \`${command.join(' ')} --help\` by hand, then \`orch doctor\` again` });
      continue;
    }
    const missing = longFlags(argv).filter(flag => !new RegExp(`(^|[\\s,\\[])${flag}(?![a-z0-9-])`, 'm').test(help.text));
    if (missing.length > 0) {
      checks.push({ severity: 'error', pointer: where, message: `\`${command.join(' ')} --help\` does not list ${missing.join(', ')}: the client will refuse ${missing.length === 1 ? 'it' : 'them'}`, action: 'remove the flag from the phase\'s args, or install a version that has it' });
    }
  }
  return checks;
}
