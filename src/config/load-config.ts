// The project config (PRODUCT.md §11): schema-checked with every problem reported at once, plus
// checks the schema cannot express. Warnings (a command not on PATH) never stop a run; errors do.
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { adapterFor, knownProvider, quietCommand } from '../agents/index.js';
import type { OrchConfig, RetryPolicy, Workflow } from '../generated/types.js';
import { patternProblems } from '../runner/classify.js';
import { PLACEHOLDER_NAMES, unknownPlaceholders } from '../runner/command-env.js';
import { specFieldNames } from '../schema/spec-fields.js';
import { OrchError, isOrchError } from '../errors.js';
import { loadDocument, type Loaded } from '../store/load.js';
import type { SchemaProblem } from '../schema/validators.js';

export interface ConfigCheck {
  errors: SchemaProblem[];
  warnings: SchemaProblem[];
}

export interface LoadedConfig {
  config: OrchConfig;
  path: string;
  warnings: SchemaProblem[];
  /** Set when the file had no "version" and was read as this one (versionWarnings says so). */
  impliedVersion?: number;
}

/** The warning for a config read without its own "version" (src/store/migrate.ts IMPLIED_VERSION). */
export function versionWarnings(loaded: Pick<Loaded<'config'>, 'impliedVersion'>): SchemaProblem[] {
  if (loaded.impliedVersion === undefined) return [];
  const version = loaded.impliedVersion;
  return [{ path: '/version', message: `no "version": taken as version ${version}; add "version": ${version} to say so (orch never rewrites the config)` }];
}

const PHASES_WITH_COMMANDS = ['plan', 'plan_review', 'implement', 'step_review', 'code_review'] as const;

/** Loads and checks the config; throws ORCH_CONFIG_INVALID listing every problem. */
export async function loadConfig(path: string, root: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let loaded: Loaded<'config'>;
  try {
    loaded = await loadDocument('config', path);
  } catch (error) {
    if (isOrchError(error) && error.code === 'ORCH_NOT_FOUND') {
      throw new OrchError('ORCH_CONFIG_INVALID', `no config at ${path}`, { details: { file: path }, hint: 'run `orch init` to create one' });
    }
    if (isOrchError(error) && error.code === 'ORCH_SCHEMA_INVALID') {
      throw new OrchError('ORCH_CONFIG_INVALID', error.message, { details: error.details, cause: error, hint: error.hint });
    }
    throw error;
  }
  const config = loaded.doc;
  const check = checkConfig(config, root, env);
  check.warnings.unshift(...versionWarnings(loaded));
  if (check.errors.length > 0) {
    // Every problem at once, one a line: fixing them one run at a time is what a list saves.
    const lines = check.errors.map(problem => `  ${problem.path}: ${problem.message}`);
    const head = check.errors.length === 1 ? `${path}: ${check.errors[0]?.path}: ${check.errors[0]?.message}` : `${path}: ${check.errors.length} problems:\n${lines.join('\n')}`;
    throw new OrchError('ORCH_CONFIG_INVALID', head, {
      details: { file: path, problems: check.errors, warnings: check.warnings },
      hint: 'fix them in the config (`orch validate` checks it again)',
    });
  }
  return { config, path, warnings: check.warnings, ...(loaded.impliedVersion !== undefined && { impliedVersion: loaded.impliedVersion }) };
}

/** What the schema cannot say: a workflow to run, commands that exist. */
export function checkConfig(config: OrchConfig, root: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const errors: SchemaProblem[] = [];
  const warnings: SchemaProblem[] = [];
  const workflows = config.workflows ?? {};
  if (Object.keys(workflows).length === 0) {
    errors.push({ path: '/workflows', message: 'no workflow is defined: add at least "default"' });
  }
  for (const [name, workflow] of Object.entries(workflows)) {
    if (workflow === undefined) continue;
    const base = `/workflows/${name}`;
    if (workflow.run !== undefined && workflow.implement?.command !== undefined) {
      errors.push({ path: `${base}/run`, message: '"run" is shorthand for implement.command: give one or the other' });
    }
    if (!hasAnyCommand(workflow)) warnings.push({ path: base, message: 'no phase has a command: every task passes straight to DONE' });
    agentProblems(config, workflow, base, root, env, errors, warnings);
    for (const [argv, path] of commandsOf(workflow, base, true)) {
      for (const name of unknownPlaceholders(argv, specFieldNames())) {
        errors.push({ path, message: `unknown placeholder {{${name}}}: orch fills in ${PLACEHOLDER_NAMES.map(p => `{{${p}}}`).join(', ')} and {{task.<any spec field>}}` });
      }
    }
    for (const [argv, path] of commandsOf(workflow, base)) {
      const program = argv[0];
      if (program !== undefined && !commandExists(program, root, env)) {
        warnings.push({ path, message: `command "${program}" is not found ${program.includes('/') ? `(relative to ${root})` : 'on PATH'}` });
      }
    }
  }
  retryProblems(config.retry, '/retry', errors);
  (config.launchers ?? []).forEach((launcher, i) => {
    if (i >= (config.workers ?? 1)) warnings.push({ path: `/launchers/${i}`, message: `there are only ${config.workers ?? 1} worker(s): this launcher is never used` });
    if (launcher.length === 0) errors.push({ path: `/launchers/${i}`, message: 'a launcher needs at least a program' });
  });
  return { errors, warnings };
}

function hasAnyCommand(workflow: Workflow): boolean {
  return (
    workflow.run !== undefined ||
    PHASES_WITH_COMMANDS.some(p => workflow[p]?.command !== undefined || isAgent(workflow[p]?.provider)) ||
    Object.keys(workflow.quality_gate?.checks ?? {}).length > 0
  );
}

function isAgent(provider: string | undefined): boolean {
  const known = knownProvider(provider);
  return known !== undefined && known !== 'command';
}

/** Invalid classification patterns are errors: a rule that cannot match is a rule that silently does nothing. */
function retryProblems(retry: RetryPolicy | undefined, path: string, errors: SchemaProblem[]): void {
  for (const set of ['non_retryable', 'rate_limit'] as const) {
    for (const problem of patternProblems(retry?.[set]?.patterns ?? [])) {
      errors.push({ path: `${path}/${set}/patterns`, message: `invalid regular expression ${problem}` });
    }
  }
}

/** Agent phases: a client that must be on PATH, a provider orch does not know, a stall timeout a non-streaming client would trip. */
function agentProblems(config: OrchConfig, workflow: Workflow, base: string, root: string, env: NodeJS.ProcessEnv, errors: SchemaProblem[], warnings: SchemaProblem[]): void {
  retryProblems(workflow.retry, `${base}/retry`, errors);
  for (const name of PHASES_WITH_COMMANDS) {
    const phase = workflow[name];
    if (phase === undefined) continue;
    const path = `${base}/${name}`;
    retryProblems(phase.retry, `${path}/retry`, errors);
    if (phase.provider !== undefined && knownProvider(phase.provider) === undefined) {
      warnings.push({ path: `${path}/provider`, message: `provider "${phase.provider}" is not one orch knows (claude_code, codex, gemini, aider, command): its output is not read for model, cost or errors` });
    }
    const adapter = adapterFor(phase.provider);
    const stall = phase.retry?.stall_timeout_s ?? workflow.retry?.stall_timeout_s ?? config.retry?.stall_timeout_s;
    const quiet = phase.command === undefined || phase.shell === true ? undefined : quietCommand(phase.command);
    if (quiet !== undefined) {
      const timeout = stall === undefined ? 'no stall timeout applies to this phase' : `stall_timeout_s (${stall}s) does not apply to this phase`;
      warnings.push({ path: `${path}/command`, message: `${quiet.what} prints nothing until it ends: ${timeout}, and \`orch tail -f\` shows nothing while it works (add ${quiet.streamWith} to see it live)` });
    }
    if (phase.command !== undefined || adapter.provider === 'command') continue;
    if (!commandExists(adapter.binary, root, env)) {
      warnings.push({ path: `${path}/provider`, message: `the ${adapter.provider} client "${adapter.binary}" is not found on PATH` });
    }
    if (stall !== undefined && !adapter.streams) {
      warnings.push({ path: `${path}/provider`, message: `${adapter.binary} prints nothing until it ends: stall_timeout_s (${stall}s) does not apply to this phase` });
    }
  }
}

/** The argv of each phase (shell lines left out unless `withShell`: their first word is no program). */
function* commandsOf(workflow: Workflow, base: string, withShell = false): Generator<[string[], string]> {
  if (workflow.run !== undefined && (withShell || workflow.implement?.shell !== true)) yield [workflow.run, `${base}/run`];
  for (const phase of PHASES_WITH_COMMANDS) {
    const spec = workflow[phase];
    if (spec?.command !== undefined && (withShell || spec.shell !== true)) yield [spec.command, `${base}/${phase}/command`];
  }
  if (withShell) return; // the quality gate's checks get no placeholders
  if (workflow.quality_gate?.shell !== true) {
    for (const [name, argv] of Object.entries(workflow.quality_gate?.checks ?? {})) yield [argv, `${base}/quality_gate/checks/${name}`];
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsc.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether `program` would be found: a path relative to the project root, or a name on PATH. */
export function commandExists(program: string, root: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (program.includes('/')) return isExecutable(isAbsolute(program) ? program : resolve(root, program));
  return (env.PATH ?? '').split(delimiter).some(dir => dir !== '' && isExecutable(join(dir, program)));
}
