// Resolves the workflow a task runs (PRODUCT.md §3, §11): which command each phase runs for this
// task, with routing, env and the retry policy of every layer merged. Pure: config and spec in,
// plain data out.
import { OrchError } from '../errors.js';
import type { Argv, OrchConfig, Phase, PhaseName, QualityGate, Route, TaskSpec, Workflow } from '../generated/types.js';
import { phaseAgent } from '../agents/providers.js';
import type { AgentProvider } from '../agents/types.js';
import { DEFAULT_RETRY, resolveRetryPolicy, type ResolvedRetryPolicy } from '../retry/backoff.js';
import { PHASES, roleOfPhase } from './states.js';

/** An executor a phase may name (the schema's enum). */
export type ExecutorName = NonNullable<Phase['executor']>;

export const DEFAULT_WORKFLOW = 'default';
export const DEFAULT_MAX_PLAN_REJECTIONS = 2;
export const DEFAULT_NO_PROGRESS_LIMIT = 3;
/** workflow.max_rate_limit_wait_s when left out: an hour parked by rate limits, then a person decides. */
export const DEFAULT_MAX_RATE_LIMIT_WAIT_S = 3600;
/** workflow.merge_target when left out: the merge queue's branch. */
export const DEFAULT_MERGE_TARGET = 'orch/integration';
/** What becomes of a task's branch when its gate passes (src/worktree/merge-queue.ts). */
export type MergeMode = NonNullable<Workflow['merge']>;
/** config.max_interruptions when it is left out (crash-loop cap). */
export const DEFAULT_MAX_INTERRUPTIONS = 3;

/** The route that picked a phase's model, kept so the runtime can log "Routing [planner] → model: reason". */
export interface RoutingChoice {
  readonly when: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly reason: string;
}

export interface ResolvedPhase {
  readonly name: PhaseName;
  /** planner, plan_reviewer, implementer, step_reviewer, code_reviewer, quality_gate. */
  readonly role: string;
  /** Not part of this task's flow at all: plan and plan_review when the spec brings its own steps. */
  readonly skipped: boolean;
  /** Something to run (a command, or quality-gate checks); false: the phase passes straight through. */
  readonly runs: boolean;
  /** The config's argv; undefined for an agent phase whose adapter builds it (see `agent`). */
  readonly command: Argv | undefined;
  /** Whose adapter runs the phase and reads its output: an agent CLI, or `command` for any program. */
  readonly agent: AgentProvider;
  /** Extra arguments for the argv an adapter builds (config `args`). */
  readonly args: readonly string[];
  /** The quality gate's named checks; empty for other phases. */
  readonly checks: Readonly<Record<string, Argv>>;
  readonly shell: boolean;
  /** A human approves before this phase starts (asked once per generation). */
  readonly gated: boolean;
  readonly model: string | undefined;
  readonly provider: string | undefined;
  readonly routing: RoutingChoice | undefined;
  /** The phase's env with the spec's env over it. */
  readonly env: Readonly<Record<string, string>>;
  readonly retry: ResolvedRetryPolicy;
  /** Where its commands run (specs/executors.md). The quality gate, the merge queue's work, runs here. */
  readonly executor: ExecutorName;
}

export interface ResolvedWorkflow {
  readonly name: string;
  readonly phases: { readonly [P in PhaseName]: ResolvedPhase };
  /** The spec brought pre-planned steps, so plan and plan_review are skipped. */
  readonly planned: boolean;
  readonly human_gate: readonly PhaseName[];
  readonly on_exhausted: 'fail' | 'human';
  readonly max_plan_rejections: number;
  readonly deadline_s: number | undefined;
  readonly max_cost_usd: number | undefined;
  readonly max_tokens: number | undefined;
  readonly no_progress_limit: number;
  readonly max_rate_limit_wait_s: number;
  /** What becomes of the task's branch when its gate passes (isolation worktree; see merge-queue.ts). */
  readonly merge: MergeMode;
  readonly merge_target: string;
  readonly on_conflict: 'agent' | 'human';
}

/**
 * Resolved workflows by config (the object: a reload makes a new one) and spec (its JSON): the engine
 * resolves a task's workflow several times per transition, and the seven retry policies each time were
 * 0.1 ms per dropped spec (issue 16). Frozen, since every caller shares them.
 */
const resolved = new WeakMap<OrchConfig, Map<string, ResolvedWorkflow>>();
/** Most specs remembered per config: a bound, not a working set (a project runs a handful of shapes). */
const MAX_RESOLVED_PER_CONFIG = 1000;

/** The workflow `spec` runs under `config`. Throws ORCH_CONFIG_INVALID when it names no workflow. */
export function resolveWorkflow(config: OrchConfig, spec: TaskSpec): ResolvedWorkflow {
  let bySpec = resolved.get(config);
  if (bySpec === undefined) resolved.set(config, (bySpec = new Map()));
  const key = JSON.stringify(spec);
  const known = bySpec.get(key);
  if (known !== undefined) return known;
  const workflow = deepFreeze(resolveAnew(config, spec));
  if (bySpec.size >= MAX_RESOLVED_PER_CONFIG) bySpec.clear();
  bySpec.set(key, workflow);
  return workflow;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function resolveAnew(config: OrchConfig, spec: TaskSpec): ResolvedWorkflow {
  const name = spec.workflow ?? DEFAULT_WORKFLOW;
  const workflow = config.workflows?.[name];
  if (workflow === undefined) {
    const known = Object.keys(config.workflows ?? {});
    throw new OrchError('ORCH_CONFIG_INVALID', `Task ${spec.id ?? '(unnamed)'} names workflow "${name}", which the config does not define`, {
      details: { workflow: name, known },
      hint: known.length === 0 ? `add workflows.${name} to config.json` : `use one of: ${known.join(', ')}`,
    });
  }
  if (workflow.run !== undefined && workflow.implement?.command !== undefined) {
    throw new OrchError('ORCH_CONFIG_INVALID', `Workflow "${name}" sets both run and implement.command`, {
      details: { workflow: name, path: `/workflows/${name}` },
      hint: 'run is shorthand for implement.command: keep one of them',
    });
  }
  const planned = spec.steps !== undefined && spec.steps.length > 0;
  const gates = new Set(workflow.human_gate ?? []);
  const phases = Object.fromEntries(
    PHASES.map(phase => [phase, resolvePhase(config, workflow, spec, phase, planned, gates.has(phase))]),
  ) as { [P in PhaseName]: ResolvedPhase };
  return {
    name,
    phases,
    planned,
    human_gate: PHASES.filter(phase => gates.has(phase)),
    on_exhausted: workflow.on_exhausted ?? 'fail',
    max_plan_rejections: workflow.max_plan_rejections ?? DEFAULT_MAX_PLAN_REJECTIONS,
    deadline_s: spec.deadline_s ?? workflow.deadline_s,
    max_cost_usd: spec.max_cost_usd ?? workflow.max_cost_usd,
    max_tokens: spec.max_tokens ?? workflow.max_tokens,
    no_progress_limit: workflow.no_progress_limit ?? DEFAULT_NO_PROGRESS_LIMIT,
    max_rate_limit_wait_s: workflow.max_rate_limit_wait_s ?? DEFAULT_MAX_RATE_LIMIT_WAIT_S,
    merge: workflow.merge ?? 'none',
    merge_target: workflow.merge_target ?? DEFAULT_MERGE_TARGET,
    on_conflict: workflow.on_conflict ?? 'agent',
  };
}

function resolvePhase(
  config: OrchConfig,
  workflow: Workflow,
  spec: TaskSpec,
  name: PhaseName,
  planned: boolean,
  gated: boolean,
): ResolvedPhase {
  const raw: Phase | QualityGate | undefined = workflow[name];
  const phase: Phase = name === 'quality_gate' || raw === undefined ? {} : (raw as Phase);
  const gate: QualityGate = name === 'quality_gate' ? ((raw as QualityGate | undefined) ?? {}) : {};
  const command = name === 'implement' ? (workflow.run ?? phase.command) : phase.command;
  const checks = gate.checks ?? {};
  const route = (phase.routes ?? []).find(candidate => routeMatches(candidate, spec));
  const skipped = planned && (name === 'plan' || name === 'plan_review');
  const provider = route?.provider ?? phase.provider;
  // A phase of a known agent CLI runs without a command: its adapter builds the argv.
  const agent = name === 'quality_gate' ? 'command' : phaseAgent(provider);
  return {
    name,
    role: roleOfPhase(name),
    skipped,
    // A merge into the target is the quality gate's work too, with no check of its own to run.
    runs: !skipped && (command !== undefined || agent !== 'command' || Object.keys(checks).length > 0 || (name === 'quality_gate' && (workflow.merge ?? 'none') !== 'none')),
    command,
    agent,
    args: phase.args ?? [],
    checks,
    shell: (name === 'quality_gate' ? gate.shell : phase.shell) ?? false,
    gated: gated && !skipped,
    model: route?.model ?? phase.model,
    provider,
    routing: route === undefined ? undefined : { when: route.when, reason: route.reason ?? describeWhen(route.when) },
    env: definedEntries({ ...(name === 'quality_gate' ? gate.env : phase.env), ...spec.env }),
    executor: name === 'quality_gate' ? 'local' : (phase.executor ?? workflow.executor ?? 'local'),
    retry: resolveRetryPolicy(
      DEFAULT_RETRY,
      config.retry,
      workflow.retry,
      name === 'quality_gate' ? gate.retry : phase.retry,
      spec.retry,
      { timeout_s: spec.timeout_s },
    ),
  };
}

/** A route matches when every `when` field equals the spec's field of that name. */
export function routeMatches(route: Route, spec: TaskSpec): boolean {
  const fields = spec as Readonly<Record<string, unknown>>;
  return Object.entries(route.when).every(([key, value]) => value === undefined || fields[key] === value);
}

function describeWhen(when: RoutingChoice['when']): string {
  const parts = Object.entries(when).map(([key, value]) => `${key}=${String(value)}`);
  return parts.length === 0 ? 'route matched' : `route matched ${parts.join(', ')}`;
}

function definedEntries(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
