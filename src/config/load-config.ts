// The project config (PRODUCT.md §11): schema-checked with every problem reported at once, plus
// checks the schema cannot express. Warnings (a command not on PATH) never stop a run; errors do.
import { delimiter, isAbsolute, resolve } from 'node:path';
import { adapterFor, knownProvider, quietCommand } from '../agents/index.js';
import type { OrchConfig, RetryPolicy, Workflow } from '../generated/types.js';
import { patternProblems } from '../runner/classify.js';
import { PLACEHOLDER_NAMES, unknownPlaceholders } from '../runner/command-env.js';
import { findOnPath, isExecutableFile } from '../runner/resolve-command.js';
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
    executorProblems(config, workflow, base, errors, warnings);
    for (const [argv, path] of commandsOf(workflow, base)) {
      const program = argv[0];
      // A program run on another host cannot be looked for here.
      if (program !== undefined && !runsRemotely(workflow, path, base) && !commandExists(program, root, env)) {
        warnings.push({ path, message: `command "${program}" is not found ${program.includes('/') ? `(relative to ${root})` : 'on PATH'}` });
      }
    }
  }
  retryProblems(config.retry, '/retry', errors);
  poolProblems(config, errors, warnings);
  (config.launchers ?? []).forEach((launcher, i) => {
    if (i >= (config.workers ?? 1)) warnings.push({ path: `/launchers/${i}`, message: `there are only ${config.workers ?? 1} worker(s): this launcher is never used` });
    if (launcher.length === 0) errors.push({ path: `/launchers/${i}`, message: 'a launcher needs at least a program' });
  });
  return { errors, warnings };
}

/** A workflow or phase that names an executor the config does not define; a remote phase's stall timeout. */
function executorProblems(config: OrchConfig, workflow: Workflow, base: string, errors: SchemaProblem[], warnings: SchemaProblem[]): void {
  const named: [string, string | undefined][] = [[`${base}/executor`, workflow.executor], ...PHASES_WITH_COMMANDS.map((phase): [string, string | undefined] => [`${base}/${phase}/executor`, workflow[phase]?.executor])];
  for (const [path, executor] of named) {
    if (executor === 'ssh' && config.executors?.ssh === undefined) errors.push({ path, message: 'executor "ssh" needs executors.ssh.hosts in the config' });
    if (executor === 'slurm' && config.executors?.slurm === undefined) errors.push({ path, message: 'executor "slurm" needs executors.slurm (its spool_dir at least) in the config' });
  }
  for (const phase of PHASES_WITH_COMMANDS) {
    const executor = workflow[phase]?.executor ?? workflow.executor;
    // A Slurm job's output is read as it grows (the shared spool): its stall timeout applies.
    if (executor !== 'ssh') continue;
    const stall = workflow[phase]?.retry?.stall_timeout_s ?? workflow.retry?.stall_timeout_s ?? config.retry?.stall_timeout_s;
    if (stall !== undefined) warnings.push({ path: `${base}/${phase}/executor`, message: `a command run over ssh is read when it has ended: stall_timeout_s (${stall}s) does not apply to it (its timeout does)` });
  }
}

/** Whether the command at `path` (a commandsOf path) runs elsewhere (a host, a cluster's node). */
function runsRemotely(workflow: Workflow, path: string, base: string): boolean {
  const phase = path === `${base}/run` ? 'implement' : PHASES_WITH_COMMANDS.find(name => path.startsWith(`${base}/${name}/`));
  const executor = phase === undefined ? undefined : (workflow[phase]?.executor ?? workflow.executor);
  return executor !== undefined && executor !== 'local';
}

/** Host names are the pool's keys (records and logs name them): two alike would be one. */
function poolProblems(config: OrchConfig, errors: SchemaProblem[], warnings: SchemaProblem[]): void {
  const hosts = config.executors?.ssh?.hosts ?? [];
  const seen = new Set<string>();
  hosts.forEach((host, i) => {
    if (seen.has(host.host)) errors.push({ path: `/executors/ssh/hosts/${i}/host`, message: `host "${host.host}" is listed twice: give each entry its own name (a Host alias of ssh_config)` });
    seen.add(host.host);
  });
  const slots = hosts.reduce((sum, host) => sum + (host.slots ?? 1), 0);
  const workers = config.workers ?? 1;
  if (slots > workers) warnings.push({ path: '/workers', message: `the ssh pool has ${slots} slots but only ${workers} worker(s): at most ${workers} command(s) run at once` });
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

/** Whether `program` would be found: a path relative to the project root, or a name on PATH. */
export function commandExists(program: string, root: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (program.includes('/')) return isExecutableFile(isAbsolute(program) ? program : resolve(root, program));
  return findOnPath(program, (env.PATH ?? '').split(delimiter).filter(dir => dir !== '')) !== undefined;
}
