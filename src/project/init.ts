// `orch init`: the state tree, a config, an example task, editor schemas and .gitignore entries.
// Idempotent: what exists is kept (a user's config is never overwritten); what is missing is created.
import { promises as fs } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { OrchConfig, TaskSpec, Workflow } from '../generated/types.js';
import { errnoCode } from '../errors.js';
import { bundleSchema, documentSchemaNames, readSchemaDir } from '../schema/bundle.js';
import { packageSchemaDir } from '../schema/package-dir.js';
import { createFileExclusive, writeFileDurable } from '../store/durable-write.js';
import { agentWorkflow, chooseAgent, detectChecks, type AgentChoice, type InitAgentName } from './init-agent.js';
import { DEFAULT_RUN_LOG, LAYOUT_DIRS, assertNotOldLayout, statePaths, type StateDirLayout, type StatePaths } from '../store/paths.js';

export interface InitOptions {
  layout?: StateDirLayout;
  project?: string;
  /** The agent CLI the config drives; default: the first one on PATH. */
  agent?: InitAgentName;
  env?: NodeJS.ProcessEnv;
}

export interface InitReport {
  paths: StatePaths;
  created: string[];
  kept: string[];
  /** The agent the config was written for (only when this run wrote the config). */
  agent?: AgentChoice;
}

/** What orch writes and a repository should not track: added to .gitignore once. */
export function gitignoreEntries(layout: StateDirLayout, runLog: string = DEFAULT_RUN_LOG): string[] {
  const { home, machine } = LAYOUT_DIRS[layout];
  return [`${machine}/`, `${home}/inbox/`, `${home}/runs/`, `${home}/schemas/`, `${home}/events.jsonl`, `/${runLog}`];
}

/** A project name the config schema accepts (2 to 64 characters), from the folder's name. */
export function projectNameFor(root: string): string {
  const name = basename(root).slice(0, 64);
  return name.length >= 2 ? name : `project-${name}`;
}

export function defaultConfig(project: string, workflow: Workflow = agentWorkflow('claude', {})): OrchConfig {
  return {
    $schema: './schemas/config.schema.json',
    $comment: [
      'orch config: see schemas/config.schema.json. Each workflow says which command runs in each phase;',
      'a phase left out passes straight through. A phase with a provider (claude_code, codex, gemini, aider) and no',
      'command runs that agent CLI with the flags orch knows; give "command" to run anything else, with {{prompt}},',
      '{{model}}, {{result_file}} and {{task.goal}} placeholders filled in.',
    ],
    version: 1,
    project,
    workers: 2,
    run_log: DEFAULT_RUN_LOG,
    retry: { strategy: 'exponential', max_attempts: 3, base_delay_s: 1, max_delay_s: 60, timeout_s: 1800 },
    workflows: { default: workflow },
  };
}

export function exampleTask(): TaskSpec {
  return {
    $schema: '../schemas/task-spec.schema.json',
    $comment: [
      'An example task. Copy it into ../tasks/ (any file name: the name is the task id) to run it.',
      'Only "goal" (or "title") is required; the rest is optional. See schemas/task-spec.schema.json.',
    ],
    title: 'Add a --version flag',
    goal: 'Add a --version flag to the command line that prints the version from package.json.',
    priority: 0,
    risk: 'low',
    depends_on: [],
    retry: { max_attempts: 3 },
    timeout_s: 1800,
  };
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export async function initProject(root: string, options: InitOptions = {}): Promise<InitReport> {
  const layout = options.layout ?? '.isollm';
  // Creating the new tree over the old one would take its specs (orchestrator/state/tasks/) for records.
  if (layout === 'orchestrator/state') assertNotOldLayout(root);
  const paths = statePaths(root, layout);
  const report: InitReport = { paths, created: [], kept: [] };
  const note = (created: boolean, path: string): void => {
    (created ? report.created : report.kept).push(relative(root, path) || '.');
  };

  for (const dir of [paths.tasks, paths.inbox, paths.records, paths.workers, paths.runs, paths.schemas, join(paths.stateDir, 'examples')]) {
    const made = await fs.mkdir(dir, { recursive: true });
    note(made !== undefined, dir);
  }
  const choice = chooseAgent(options.agent, root, options.env);
  const workflow = agentWorkflow(choice.agent, detectChecks(root));
  const wroteConfig = await createFileExclusive(paths.config, toJson(defaultConfig(options.project ?? projectNameFor(root), workflow)));
  note(wroteConfig, paths.config);
  if (wroteConfig) report.agent = choice;
  const example = join(paths.stateDir, 'examples', 'example-task.json');
  note(await createFileExclusive(example, toJson(exampleTask())), example);

  // Self-contained copies of the schemas, so editors complete and check files by their "$schema".
  // Rewritten every time: they follow the installed orch's version.
  const files = readSchemaDir(packageSchemaDir());
  for (const name of documentSchemaNames(files)) {
    const target = join(paths.schemas, name);
    const text = toJson(bundleSchema(files, name));
    const current = await fs.readFile(target, 'utf8').catch(() => undefined);
    if (current === text) note(false, target);
    else {
      await writeFileDurable(target, text);
      note(true, target);
    }
  }
  note(await wireVsCode(root, layout), join(root, '.vscode', 'settings.json'));
  note(await addGitignoreEntries(root, gitignoreEntries(layout)), join(root, '.gitignore'));
  return report;
}

/** Adds the entries .gitignore lacks; true when it changed. */
export async function addGitignoreEntries(root: string, entries: string[]): Promise<boolean> {
  const path = join(root, '.gitignore');
  const current = await fs.readFile(path, 'utf8').catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return '';
    throw error;
  });
  const present = new Set(current.split('\n').map(line => line.trim()));
  const missing = entries.filter(entry => !present.has(entry));
  if (missing.length === 0) return false;
  const prefix = current === '' || current.endsWith('\n') ? '' : '\n';
  await fs.writeFile(path, `${current}${prefix}# orch: machine-owned state\n${missing.join('\n')}\n`);
  return true;
}

/**
 * Maps task files to their schema in VS Code, only when the project has no settings file yet: an
 * existing one may hold comments (JSONC) that a rewrite would lose. Files also carry "$schema".
 */
async function wireVsCode(root: string, layout: StateDirLayout): Promise<boolean> {
  const { home } = LAYOUT_DIRS[layout];
  const settings = {
    'json.schemas': [
      { fileMatch: [`/${home}/tasks/*.json`], url: `./${home}/schemas/task-spec.schema.json` },
      { fileMatch: [`/${home}/config.json`], url: `./${home}/schemas/config.schema.json` },
    ],
  };
  await fs.mkdir(join(root, '.vscode'), { recursive: true });
  return createFileExclusive(join(root, '.vscode', 'settings.json'), toJson(settings));
}
