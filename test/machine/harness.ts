// Shared by the machine tests (no tests of its own): configs, a deep freeze, and a driver that feeds
// events to transition() the way the runtime would, checking on every step that the input record was
// not changed and that the output record is schema-valid.
import type { Attempt, AttemptReason, CommandResult, OrchConfig, TaskRecord, TaskSpec, Workflow } from '../../src/generated/types.js';
import type { Effect, TaskEvent } from '../../src/machine/events.js';
import { createRecord, currentPhase, nextAttemptNumber, transition, type TransitionContext } from '../../src/machine/transition.js';
import { resolveWorkflow } from '../../src/machine/workflow.js';
import { FILE_KINDS, schemaProblems } from '../../src/schema/validators.js';

export const T0 = Date.parse('2025-12-10T10:30:00.000Z');
export const HASH = 'a'.repeat(64);
export const HASH2 = 'b'.repeat(64);

/** Every phase with a command, the quality gate with two checks. */
export const FULL_WORKFLOW: Workflow = {
  plan: {
    command: ['plan.sh'],
    model: 'claude-sonnet-4-5',
    provider: 'claude_cli',
    routes: [{ when: { risk: 'high' }, model: 'claude-opus-4-1', reason: 'High-risk task needs the best reasoning' }],
  },
  plan_review: { command: ['review-plan.sh'] },
  implement: { command: ['implement.sh'] },
  step_review: { command: ['review-step.sh'] },
  code_review: { command: ['review-code.sh'] },
  quality_gate: { checks: { test: ['npm', 'test'], lint: ['npm', 'run', 'lint'] } },
};

export function configWith(workflow: Workflow, extra: Partial<OrchConfig> = {}): OrchConfig {
  return { version: 1, project: 'demo', ...extra, workflows: { default: workflow, ...extra.workflows } };
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

export interface FinishOptions {
  readonly reason?: AttemptReason;
  readonly retryable?: boolean;
  readonly exit_code?: number | null;
  readonly signal?: string | null;
  readonly error?: string;
  readonly result?: CommandResult;
  readonly rate_limited_until?: number;
  readonly signature?: string;
  readonly config_problem?: boolean;
  /** Milliseconds the attempt takes (default 1000): the clock moves only here, or by hand. */
  readonly took?: number;
}

export interface Driver {
  record: TaskRecord;
  now: number;
  /** Effects of the last event. */
  effects: readonly Effect[];
  config: OrchConfig;
  maxInterruptions: number;
  random: () => number;
  send(event: TaskEvent): readonly Effect[];
  /** Starts the phase the task runs now (attempt_started), then ends it (attempt_finished). */
  run(options?: FinishOptions): readonly Effect[];
  /** attempt_started for the current phase; returns the attempt's n. */
  begin(): number;
  end(n: number, options?: FinishOptions): readonly Effect[];
  /** Phases (with step ids) of the run_phase effects of the last event. */
  runs(): string[];
  states(): string[];
  ctx(): TransitionContext;
}

export function driver(spec: TaskSpec, config: OrchConfig = configWith(FULL_WORKFLOW), id = 'RAE-001'): Driver {
  const d: Driver = {
    record: createRecord(spec, id, `tasks/${id}.json`, HASH, T0),
    now: T0,
    effects: [],
    config,
    maxInterruptions: 3,
    random: () => 0.5,
    ctx() {
      return { now: d.now, workflow: resolveWorkflow(d.config, d.record.spec), random: d.random, maxInterruptions: d.maxInterruptions };
    },
    send(event) {
      const input = deepFreeze(structuredClone(d.record));
      const before = JSON.stringify(input);
      const ctx = event.type === 'spec_changed'
        ? { ...d.ctx(), workflow: resolveWorkflow(d.config, event.spec) }
        : d.ctx();
      const out = transition(input, event, ctx);
      if (JSON.stringify(input) !== before) throw new Error('transition changed its input record');
      if (!FILE_KINDS.record.validate(out.record)) {
        throw new Error(`invalid record after ${event.type}: ${JSON.stringify(schemaProblems(FILE_KINDS.record.validate.errors))}`);
      }
      d.record = structuredClone(out.record);
      d.effects = out.effects;
      return out.effects;
    },
    begin() {
      const run = currentPhase(d.record);
      if (run === undefined) throw new Error(`task is ${d.record.state}: nothing to run`);
      const n = nextAttemptNumber(d.record);
      const attempt: Attempt = {
        n,
        phase: run.phase,
        ...(run.step_id === undefined ? {} : { step_id: run.step_id }),
        started_at: new Date(d.now).toISOString(),
        spec_hash: d.record.spec_hash,
        artifacts_dir: `runs/r1/${d.record.id}/${n}`,
        process: { pid: 4242, pgid: 4242, start_time: 123456, boot_id: 'boot-1', host: 'host1' },
      };
      d.send({ type: 'attempt_started', attempt });
      return n;
    },
    end(n, options = {}) {
      d.now += options.took ?? 1000;
      const reason = options.reason ?? 'succeeded';
      return d.send({
        type: 'attempt_finished',
        n,
        reason,
        retryable: options.retryable ?? true,
        exit_code: options.exit_code === undefined ? (reason === 'succeeded' ? 0 : 1) : options.exit_code,
        signal: options.signal ?? null,
        ...(options.error === undefined ? {} : { error: options.error }),
        ...(options.result === undefined ? {} : { result: options.result }),
        ...(options.rate_limited_until === undefined ? {} : { rate_limited_until: options.rate_limited_until }),
        ...(options.signature === undefined ? {} : { signature: options.signature }),
        ...(options.config_problem === undefined ? {} : { config_problem: options.config_problem }),
      });
    },
    run(options) {
      return d.end(d.begin(), options);
    },
    runs() {
      return d.effects.flatMap(e => (e.type === 'run_phase' ? [e.step_id === undefined ? e.phase : `${e.phase}:${e.step_id}`] : []));
    },
    states() {
      return d.record.history.map(h => h.to);
    },
  };
  return d;
}

export const PLAN_2: CommandResult = { outcome: 'done', plan: [{ id: 'S1', title: 'first' }, { id: 'S2', title: 'second' }] };
export const APPROVED: CommandResult = { outcome: 'approved' };
export const REJECTED = (reason: string): CommandResult => ({ outcome: 'rejected', reason });
export const CHECKS_OK: CommandResult = { checks: [{ name: 'test', passed: true }, { name: 'lint', passed: true }] };
