// What a phase command is given: its arguments with {{placeholders}} filled in, and ORCH_* variables.
// Placeholders are replaced inside each argv element; nothing is ever handed to a shell for
// interpolation, so a goal holding `$(rm -rf ~)` arrives as those very characters.
import { OrchError } from '../errors.js';

/** `{{ anything }}`: every such span must be a known placeholder, so typos are found, not passed on. */
const PLACEHOLDER_SPAN = /\{\{(.*?)\}\}/g;
/** A dotted path: `task.goal`, `step.id`, `attempt`. */
const PLACEHOLDER_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;

/** What a placeholder may name besides `{{task.<spec field>}}` (PRODUCT.md §4; values in src/runtime/prompt.ts). */
export const PLACEHOLDER_NAMES = [
  'task', 'task.id', 'task.title', 'task.goal', 'step', 'step.id', 'step.title', 'step.goal',
  'phase', 'attempt', 'feedback', 'model', 'provider', 'result_file', 'prompt', 'diff', 'diff_file',
] as const;

/** The placeholders of `argv` that name nothing orch fills in (a typo: `{{task.gaol}}`). */
export function unknownPlaceholders(argv: readonly string[], specFields: readonly string[]): string[] {
  const known = new Set<string>([...PLACEHOLDER_NAMES, ...specFields.map(field => `task.${field}`)]);
  return placeholdersOf(argv).filter(path => !known.has(path));
}

/** The placeholders used in `argv`, in order of first use (for config checks). */
export function placeholdersOf(argv: readonly string[]): string[] {
  const found = new Set<string>();
  for (const arg of argv) for (const match of arg.matchAll(PLACEHOLDER_SPAN)) found.add((match[1] ?? '').trim());
  return [...found];
}

/**
 * Fills every `{{a.b}}` of `argv` from `vars` (a path into nested objects). Strings go in as they are,
 * numbers and booleans as text, objects and arrays as JSON, null as ''. A path that leads nowhere, or
 * a malformed `{{…}}`, is ORCH_CONFIG_INVALID naming it: the engine passes '' for optional values that
 * are absent (a first attempt's `{{feedback}}`), so only typos fail.
 */
export function renderArgs(argv: readonly string[], vars: Record<string, unknown>): string[] {
  return argv.map((arg, index) =>
    arg.replace(PLACEHOLDER_SPAN, (_span, inner: string) => {
      const path = inner.trim();
      const value = PLACEHOLDER_PATH.test(path) ? lookup(vars, path.split('.')) : undefined;
      if (value === undefined) {
        throw new OrchError('ORCH_CONFIG_INVALID', `unknown placeholder {{${path}}} in argument ${index} of the command`, {
          details: { placeholder: path, argument: index, known: knownPaths(vars) },
          hint: `known placeholders: ${knownPaths(vars).map(p => `{{${p}}}`).join(', ')}`,
        });
      }
      return asText(value);
    }),
  );
}

function lookup(vars: unknown, path: string[]): unknown {
  let here: unknown = vars;
  for (const key of path) {
    // Own properties only: `{{task.constructor}}` or `{{__proto__}}` are unknown, not Object internals.
    if (here === null || typeof here !== 'object' || !Object.hasOwn(here, key)) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** Every leaf path of `vars` (a.b.c), for the error's hint. */
function knownPaths(vars: Record<string, unknown>, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(vars)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) paths.push(...knownPaths(value as Record<string, unknown>, path));
    else paths.push(path);
  }
  return paths;
}

export interface OrchCommandContext {
  taskId: string;
  taskFile: string;
  recordFile: string;
  phase: string;
  stepId?: string | undefined;
  attempt: number;
  artifactsDir: string;
  resultFile: string;
  feedbackFile?: string | undefined;
  /** The task's own worktree and the commit its branch was made from (isolation worktree). */
  worktree?: { path: string; base_sha: string } | undefined;
  /** Who spawned it: the session marker (src/runner/session-marker.ts), so a crash cannot hide it. */
  marker?: { stateDir: string; session: string; attemptId: string } | undefined;
}

/** The ORCH_* variables a command receives (PRODUCT.md §4). */
export const ORCH_ENV_NAMES = [
  'ORCH_TASK_ID',
  'ORCH_TASK_FILE',
  'ORCH_RECORD_FILE',
  'ORCH_PHASE',
  'ORCH_STEP_ID',
  'ORCH_ATTEMPT',
  'ORCH_ARTIFACTS_DIR',
  'ORCH_RESULT_FILE',
  'ORCH_FEEDBACK_FILE',
  'ORCH_WORKTREE',
  'ORCH_BASE_SHA',
  'ORCH_STATE_DIR',
  'ORCH_SESSION',
  'ORCH_ATTEMPT_ID',
] as const;
export type OrchEnvName = (typeof ORCH_ENV_NAMES)[number];
const ours = new Set<string>(ORCH_ENV_NAMES);

/**
 * The whole environment of a command: `base` (usually process.env), then `extra` (the config's and
 * the task's `env`), then the ORCH_* variables, which always win. ORCH_* names inherited from `base`
 * (an orch run inside a command of another) are dropped first, so a variable this attempt does not
 * have (ORCH_STEP_ID outside a step, ORCH_FEEDBACK_FILE without feedback) is absent, not stale.
 */
export function buildCommandEnv(base: NodeJS.ProcessEnv, orch: OrchCommandContext, extra: Record<string, string> = {}): Record<string, string> {
  // No prototype: a variable named __proto__ (a legal name) is then an entry like any other, where an
  // assignment to a plain object would set its prototype and drop the variable.
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(base)) if (value !== undefined && !ours.has(name)) env[name] = value;
  for (const [name, value] of Object.entries(extra)) if (!ours.has(name)) env[name] = value;
  const set: Partial<Record<OrchEnvName, string>> = {
    ORCH_TASK_ID: orch.taskId,
    ORCH_TASK_FILE: orch.taskFile,
    ORCH_RECORD_FILE: orch.recordFile,
    ORCH_PHASE: orch.phase,
    ORCH_ATTEMPT: String(orch.attempt),
    ORCH_ARTIFACTS_DIR: orch.artifactsDir,
    ORCH_RESULT_FILE: orch.resultFile,
  };
  if (orch.stepId !== undefined) set.ORCH_STEP_ID = orch.stepId;
  if (orch.feedbackFile !== undefined) set.ORCH_FEEDBACK_FILE = orch.feedbackFile;
  if (orch.worktree !== undefined) {
    set.ORCH_WORKTREE = orch.worktree.path;
    set.ORCH_BASE_SHA = orch.worktree.base_sha;
  }
  if (orch.marker !== undefined) {
    set.ORCH_STATE_DIR = orch.marker.stateDir;
    set.ORCH_SESSION = orch.marker.session;
    set.ORCH_ATTEMPT_ID = orch.marker.attemptId;
  }
  return Object.assign(env, set);
}
