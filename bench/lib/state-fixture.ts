// Projects for the benchmarks: a config, the folders, and N finished tasks (a spec and a DONE record
// each) written straight to disk, fast. Large sets are generated once into a cache under /tmp keyed
// by the count and the record schema, and reused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrchConfig, TaskRecord, TaskSpec, Workflow } from '../../src/generated/types.js';
import { createRecord } from '../../src/machine/record.js';
import { validateDocument } from '../../src/store/load.js';
import { sealOf } from '../../src/store/record-seal.js';
import { hashBytes } from '../../src/store/specs.js';

export const BENCH_CACHE = join(tmpdir(), 'orch-bench-cache');

export interface ProjectOptions {
  workflow: Workflow;
  workers?: number;
  /** Seconds between full resyncs; the benchmarks set it long so a resync does not land inside a sample. */
  resyncS?: number;
}

export function writeConfig(root: string, options: ProjectOptions): void {
  const config: OrchConfig = {
    version: 1,
    project: 'orch-bench',
    workers: options.workers ?? 1,
    resync_interval_s: options.resyncS ?? 3600,
    workflows: { default: options.workflow },
  };
  writeFileSync(join(root, '.isollm', 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** The folders of a project at `root`, and its config. */
export function makeProject(root: string, options: ProjectOptions): string {
  for (const dir of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', dir), { recursive: true });
  writeConfig(root, options);
  return root;
}

export function specText(spec: TaskSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** A finished task as a real run leaves it: one attempt, two transitions, DONE, sealed (record-seal.ts). */
export function doneRecord(id: string, specBytes: Buffer, spec: TaskSpec, now: number): TaskRecord {
  const record = createRecord(spec, id, `tasks/${id}.json`, hashBytes(specBytes), now);
  const at = (ms: number): string => new Date(now + ms).toISOString();
  const done: TaskRecord = {
    ...record,
    $schema: '../../schemas/task-record.schema.json',
    epoch: 1,
    rev: 4,
    state: 'DONE',
    state_since: at(40),
    updated_at: at(40),
    phase: 'implement',
    step_index: 0,
    steps: [{ id: 'S1', goal: spec.goal ?? '', state: 'COMPLETED', attempts: 1 }],
    attempts: [
      {
        n: 1,
        generation: 1,
        phase: 'implement',
        worker: 'w1',
        started_at: at(20),
        run_id: 'bench-fixture',
        artifacts_dir: `runs/bench-fixture/${id}/001-implement-S1`,
        step_id: 'S1',
        ended_at: at(40),
        reason: 'succeeded',
        retryable: false,
        exit_code: 0,
        signal: null,
      },
    ],
    phase_attempts: 1,
    cost: { usd: 0, tokens: 0, by_role: { implement: { usd: 0, tokens: 0, calls: 1 } } },
    history: [
      { at: at(10), from: 'NEW', to: 'IMPLEMENTING', reason: 'implement starts', actor: 'orch', generation: 1 },
      { at: at(40), from: 'IMPLEMENTING', to: 'DONE', reason: 'all phases passed', actor: 'orch', generation: 1 },
    ],
  };
  return { ...done, seal: sealOf(done) };
}

export function fixtureId(i: number): string {
  return `done-${String(i).padStart(6, '0')}`;
}

/** Writes `count` finished tasks (spec + DONE record) into the project at `root`. Not durable: fixtures. */
export function populate(root: string, count: number): void {
  const now = Date.parse('2026-01-01T00:00:00.000Z');
  for (let i = 0; i < count; i++) {
    const id = fixtureId(i);
    const spec: TaskSpec = { goal: `benchmark fixture task ${i}: already done` };
    const bytes = Buffer.from(specText(spec));
    const record = doneRecord(id, bytes, spec, now + i);
    if (i === 0) validateDocument('record', id, record); // a schema change shows here, not as a cancelled task
    writeFileSync(join(root, '.isollm', 'tasks', `${id}.json`), bytes);
    writeFileSync(join(root, '.isollm', 'state', 'tasks', `${id}.json`), `${JSON.stringify(record, null, 2)}\n`);
  }
}

/** Raised when the fixture's records change (2: sealed, as every record orch writes). */
const FIXTURE_VERSION = '2';

/** The cache key: a schema change makes old fixtures useless, as does a new FIXTURE_VERSION. */
function cacheKey(): string {
  const schemas = ['task-record', 'task-spec'].map(name => readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url)));
  return createHash('sha256').update(Buffer.concat([...schemas, Buffer.from(FIXTURE_VERSION)])).digest('hex').slice(0, 12);
}

/**
 * A project with `count` finished tasks, generated once and kept in BENCH_CACHE. Callers that run
 * the orchestrator on it reset what a run writes (resetRunFiles) so every run starts alike.
 */
export function cachedProject(count: number, options: ProjectOptions, log: (line: string) => void = () => undefined): string {
  const root = join(BENCH_CACHE, `${cacheKey()}-${count}`);
  if (!existsSync(join(root, '.complete'))) {
    const building = `${root}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    log(`generating ${count} task records into ${root} (once; cached for later runs)`);
    makeProject(building, options);
    populate(building, count);
    writeFileSync(join(building, '.complete'), `${count}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(building, root);
  }
  writeConfig(root, options);
  resetRunFiles(root);
  return root;
}

/** Removes what an orchestrator run leaves (session, workers, run log, events, artifacts). */
export function resetRunFiles(root: string): void {
  for (const path of ['.isollm/state/session.json', '.isollm/state/workers', '.isollm/events.jsonl', '.isollm/runs', 'ORCHESTRATOR_RUN_LOG.md']) {
    rmSync(join(root, path), { recursive: true, force: true });
  }
}
