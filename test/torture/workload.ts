// The torture workload (no tests of its own), shared by the torture tests and scripts/torture.ts:
// N tasks of several kinds run by a shell agent, and the outcome each must reach however often the
// orchestrator is killed. test/torture/project.ts makes the project and runs orch over it.
import type { OrchConfig, TaskRecord, TaskSpec, Workflow } from '../../src/generated/types.js';

/**
 * The agent: a POSIX shell script (a few ms to start, where node takes 50), run for every phase.
 * TORTURE_KIND (the task's env) decides what it does; TORTURE_SLEEP how long it works first;
 * TORTURE_HOLD_S makes implement run that long (a long agent, to be found running after a crash).
 * Everything it decides depends only on ORCH_* values that crashes do not change, so a task ends the
 * same however often the orchestrator is killed: flaky fails its first two counted attempts, replan's
 * plan is rejected while the record counts no rejection yet.
 */
export const AGENT_SCRIPT = [
  'sleep "${TORTURE_SLEEP:-0}"',
  'kind="${TORTURE_KIND:-ok}"',
  'out() { printf "%s" "$1" > "$ORCH_RESULT_FILE"; }',
  'case "$ORCH_PHASE" in',
  '  plan) out \'{"plan":[{"id":"S1","title":"first","goal":"a"},{"id":"S2","title":"second","goal":"b"}],"cost_usd":0.01}\' ;;',
  '  plan_review) if [ "$kind" = replan ] && grep -q \'"plan_rejections": 0\' "$ORCH_RECORD_FILE"; then out \'{"outcome":"rejected","reason":"too vague"}\'; else out \'{"outcome":"approved"}\'; fi ;;',
  '  implement)',
  '    if [ -n "${TORTURE_HOLD_S:-}" ]; then sleep "$TORTURE_HOLD_S"; fi',
  '    if [ "$kind" = fatal ]; then echo "Error: invalid API key" >&2; exit 1; fi',
  '    if [ "$kind" = flaky ] && [ "$ORCH_ATTEMPT" -lt 3 ]; then echo "Error: connection reset by peer" >&2; exit 1; fi',
  '    out \'{"outcome":"done","cost_usd":0.01}\' ;;',
  '  *) out \'{"outcome":"approved"}\' ;;',
  'esac',
  'echo "agent $ORCH_TASK_ID $ORCH_PHASE ${ORCH_STEP_ID:-} attempt $ORCH_ATTEMPT: $kind"',
].join('\n');

export const AGENT: [string, ...string[]] = ['/bin/sh', '-c', AGENT_SCRIPT, 'torture-agent'];

/** Every phase runs the agent; the gate has one check. */
export const FULL: Workflow = {
  plan: { command: AGENT },
  plan_review: { command: AGENT },
  implement: { command: AGENT },
  step_review: { command: AGENT },
  code_review: { command: AGENT },
  quality_gate: { checks: { test: ['/bin/sh', '-c', 'sleep "${TORTURE_SLEEP:-0}"; exit 0'] } },
};

export const TORTURE_CONFIG: Omit<OrchConfig, 'project'> = {
  version: 1,
  workers: 4,
  // Interruptions are what this suite causes: the crash-loop cap must not turn them into a parked task.
  max_interruptions: 100_000,
  retry: { strategy: 'exponential', max_attempts: 3, base_delay_s: 0.02, max_delay_s: 0.1, jitter: 0, timeout_s: 120 },
  workflows: {
    default: FULL,
    quick: { implement: { command: AGENT } },
    gated: { implement: { command: AGENT }, human_gate: ['implement'] },
  },
};

export const TASK_KINDS = ['ok', 'flaky', 'fatal', 'replan', 'quick', 'quick-flaky', 'gated', 'planned'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export interface PlannedTask {
  id: string;
  kind: TaskKind;
  spec: TaskSpec;
}

/** A small deterministic generator (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function specOf(kind: TaskKind, index: number, sleep: string, dependsOn: string | undefined): TaskSpec {
  const base: TaskSpec = { goal: `torture task ${index} (${kind})`, priority: index % 3 };
  const env = (k: string): Record<string, string> => ({ TORTURE_KIND: k, TORTURE_SLEEP: sleep });
  const deps = dependsOn === undefined ? {} : { depends_on: [dependsOn] };
  switch (kind) {
    case 'ok':
    case 'flaky':
    case 'replan':
      return { ...base, ...deps, env: env(kind) };
    case 'fatal':
      return { ...base, workflow: 'quick', env: env('fatal') };
    case 'quick':
      return { ...base, ...deps, workflow: 'quick', env: env('ok') };
    case 'quick-flaky':
      return { ...base, workflow: 'quick', env: env('flaky') };
    case 'gated':
      return { ...base, workflow: 'gated', env: env('ok') };
    case 'planned':
      return { ...base, ...deps, steps: [{ id: 'P1', goal: 'one' }, { id: 'P2', goal: 'two' }, { id: 'P3', goal: 'three' }], env: env('ok') };
    default: {
      const never: never = kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/** Mostly one-command tasks, one in ten with the whole workflow: the fast tier's mix. */
export const LIGHT_MIX: readonly TaskKind[] = ['quick', 'quick-flaky', 'quick', 'fatal', 'gated', 'quick', 'ok', 'quick', 'quick-flaky', 'quick'];

/**
 * `count` tasks of the kinds of `mix` in turn, each sleeping 20 to 200 ms per command; every fifth
 * task that can succeed depends on the one before it that can.
 */
export function planTasks(count: number, seed = 1, mix: readonly TaskKind[] = TASK_KINDS): PlannedTask[] {
  const random = seededRandom(seed);
  const tasks: PlannedTask[] = [];
  let lastGood: string | undefined;
  for (let i = 0; i < count; i++) {
    const kind = mix[i % mix.length] ?? 'ok';
    const id = `T${String(i + 1).padStart(3, '0')}`;
    const sleep = (0.02 + random() * 0.18).toFixed(2);
    const canDepend = kind === 'ok' || kind === 'quick' || kind === 'planned';
    const dependsOn = canDepend && i % 5 === 4 ? lastGood : undefined;
    tasks.push({ id, kind, spec: specOf(kind, i, sleep, dependsOn) });
    if (canDepend) lastGood = id;
  }
  return tasks;
}

/** What a task must end as: its state, and its attempts that were not interrupted, as phase/step/reason. */
export interface ExpectedOutcome {
  state: TaskRecord['state'];
  attempts: string[];
}

const FULL_PHASES = (steps: string[]): string[] => [
  ...steps.flatMap(s => [`implement/${s}/succeeded`, `step_review/${s}/succeeded`]),
  'code_review/-/succeeded',
  'quality_gate/-/succeeded',
];

/** The outcome of `task` once every gate is approved, however often the orchestrator died. */
export function expectedOutcome(task: PlannedTask): ExpectedOutcome {
  const plan = ['plan/-/succeeded', 'plan_review/-/succeeded'];
  switch (task.kind) {
    case 'ok':
      return { state: 'DONE', attempts: [...plan, ...FULL_PHASES(['S1', 'S2'])] };
    case 'flaky':
      return {
        state: 'DONE',
        // ORCH_ATTEMPT counts per step: each step fails twice.
        attempts: [...plan, ...['S1', 'S2'].flatMap(s => [`implement/${s}/failed`, `implement/${s}/failed`, `implement/${s}/succeeded`, `step_review/${s}/succeeded`]), 'code_review/-/succeeded', 'quality_gate/-/succeeded'],
      };
    case 'replan':
      return { state: 'DONE', attempts: ['plan/-/succeeded', 'plan_review/-/succeeded', ...plan, ...FULL_PHASES(['S1', 'S2'])] };
    case 'fatal':
      return { state: 'FAILED', attempts: ['implement/S1/failed'] };
    case 'quick':
    case 'gated':
      return { state: 'DONE', attempts: ['implement/S1/succeeded'] };
    case 'quick-flaky':
      return { state: 'DONE', attempts: ['implement/S1/failed', 'implement/S1/failed', 'implement/S1/succeeded'] };
    case 'planned':
      return { state: 'DONE', attempts: FULL_PHASES(['P1', 'P2', 'P3']) };
    default: {
      const never: never = task.kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/** A record's attempts that were not interrupted, in the shape of ExpectedOutcome.attempts. */
export function countedAttempts(record: TaskRecord): string[] {
  return record.attempts.filter(a => a.reason !== 'interrupted').map(a => `${a.phase}/${a.step_id ?? '-'}/${a.reason ?? 'open'}`);
}
