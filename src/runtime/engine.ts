// The orchestrator's engine: the imperative shell around the pure machine. It compares specs with
// records (level-triggered: every pass looks at the whole tree), applies events through fenced
// record updates, carries out the effects, and runs phase commands in worker slots.
import { promises as fs } from 'node:fs';
import { relative } from 'node:path';
import type { OrchConfig, TaskRecord } from '../generated/types.js';
import { systemClock, type Clock } from '../clock.js';
import { isOrchError, type OrchError } from '../errors.js';
import { DEFAULT_MAX_INTERRUPTIONS, resolveWorkflow, type ResolvedWorkflow } from '../machine/workflow.js';
import { createRecord, currentPhase, nextAttemptNumber, transition, type Effect, type PhaseRun, type TaskEvent } from '../machine/transition.js';
import { findDependencyCycles, isRunnable, orderRunnable } from '../machine/schedule.js';
import { isTerminal } from '../machine/states.js';
import type { RunLog } from '../runlog/run-log.js';
import { updateDocument, type Fence } from '../store/fenced-update.js';
import { loadAll } from '../store/load.js';
import { recordPath, type StatePaths } from '../store/paths.js';
import { loadSpecs, type LoadedSpec } from '../store/specs.js';
import { runAttempt } from './attempt.js';
import { WorkerPool } from './workers.js';

/** Most bytes of stdout and of stderr kept per attempt, when the config does not say. */
export const DEFAULT_OUTPUT_CAP_BYTES = 10 * 1024 * 1024;

export interface EngineOptions {
  paths: StatePaths;
  config: OrchConfig;
  fence: Fence;
  runId: string;
  runLog: RunLog;
  clock?: Clock;
  random?: () => number;
  env?: NodeJS.ProcessEnv;
}

export interface EngineSummary {
  done: string[];
  failed: string[];
  awaiting: string[];
  cancelled: string[];
  costUsd: number;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export class Engine {
  readonly records = new Map<string, TaskRecord>();
  private readonly options: EngineOptions;
  private readonly clock: Clock;
  private readonly running = new Map<string, Running>();
  private readonly workers: WorkerPool;
  /** Files reported invalid, with the message: reported again only when the problem changes. */
  private readonly reported = new Map<string, string>();
  private wakeUp: (() => void) | undefined;
  /** A wake() that came while no pass was waiting: the next wait returns at once (no lost wake-ups). */
  private pending = false;
  private stopping = false;

  constructor(options: EngineOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.workers = new WorkerPool(options.paths, options.config, options.fence, this.clock);
  }

  /** Runs until nothing is running and nothing will become runnable by waiting (or `signal` aborts). */
  async runUntilIdle(signal?: AbortSignal): Promise<EngineSummary> {
    await this.workers.open();
    signal?.addEventListener('abort', () => this.wake(), { once: true });
    try {
      while (signal?.aborted !== true && !this.stopping) {
        this.pending = false;
        await this.reconcile();
        await this.schedule();
        const wait = this.nextWakeAt();
        if (this.running.size === 0 && wait === undefined && !this.pending) break;
        await this.sleepUntil(wait);
      }
    } finally {
      await this.stopAll('the orchestrator is stopping');
      await this.workers.close();
    }
    return this.summary();
  }

  /** Interrupts a wait so the next pass starts now (a watcher hint, an attempt that ended). */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Stops taking work; running commands are stopped. */
  async stopAll(reason: string): Promise<void> {
    this.stopping = true;
    for (const run of this.running.values()) run.controller.abort(reason);
    await Promise.allSettled([...this.running.values()].map(run => run.done));
  }

  summary(): EngineSummary {
    const all = [...this.records.values()];
    const ids = (state: TaskRecord['state']): string[] => all.filter(r => r.state === state).map(r => r.id);
    return {
      done: ids('DONE'),
      failed: ids('FAILED'),
      awaiting: ids('AWAITING_HUMAN'),
      cancelled: ids('CANCELLED'),
      costUsd: all.reduce((sum, r) => sum + r.cost.usd, 0),
    };
  }

  /** Compares every spec with its record and acts on each difference. */
  async reconcile(): Promise<void> {
    const { paths } = this.options;
    const [{ specs, errors }, records] = await Promise.all([loadSpecs(paths.tasks), loadAll('record', paths.records)]);
    for (const failure of [...errors, ...records.errors]) await this.reportInvalid(failure.path, failure.error);
    this.records.clear();
    for (const item of records.items) this.records.set(item.doc.id, item.doc);
    const inCycle = new Set<string>();
    for (const cycle of findDependencyCycles(specs.map(s => ({ id: s.id, depends_on: s.spec.depends_on })))) {
      cycle.forEach(id => inCycle.add(id));
      await this.reportOnce(`cycle:${cycle.join(',')}`, `Tasks ${cycle.join(' → ')} depend on each other in a cycle: none of them can run`, [
        'remove one of the depends_on entries',
      ]);
    }
    const specIds = new Set(specs.map(s => s.id));
    for (const spec of specs) {
      if (inCycle.has(spec.id)) continue;
      const record = this.records.get(spec.id);
      if (record === undefined) await this.createTask(spec);
      else if (record.spec_hash !== spec.hash) {
        await this.apply(spec.id, { type: 'spec_changed', spec: spec.spec, hash: spec.hash, mode: this.options.config.on_spec_change ?? 'next_phase' });
      }
    }
    const badSpecFiles = new Set(errors.map(e => e.path));
    for (const record of this.records.values()) {
      if (specIds.has(record.id) || isTerminal(record.state)) continue;
      const specFile = `${paths.stateDir}/${record.spec_file}`;
      // An invalid spec is reported, not taken as deleted: the task waits until the file is fixed.
      if (badSpecFiles.has(specFile) || (await fs.lstat(specFile).then(() => true, () => false))) continue;
      await this.apply(record.id, { type: 'spec_deleted' });
    }
  }

  private async createTask(spec: LoadedSpec): Promise<void> {
    const { paths } = this.options;
    const fresh = createRecord(spec.spec, spec.id, relative(paths.stateDir, spec.path), spec.hash, this.clock.now());
    const written = await updateDocument('record', recordPath(paths, spec.id), current => (current === undefined ? fresh : undefined), this.updateOptions());
    if (written !== undefined) this.records.set(spec.id, written);
  }

  /** Applies `event` to task `id` under the record's lock, then carries out the effects. */
  async apply(id: string, event: TaskEvent): Promise<TaskRecord | undefined> {
    let effects: readonly Effect[] = [];
    try {
      const written = await updateDocument(
        'record',
        recordPath(this.options.paths, id),
        current => {
          if (current === undefined) return undefined;
          const workflow = this.workflowFor(event.type === 'spec_changed' ? { ...current, spec: event.spec } : current);
          const result = transition(current, event, {
            now: this.clock.now(),
            workflow,
            random: this.options.random ?? Math.random,
            maxInterruptions: this.options.config.max_interruptions ?? DEFAULT_MAX_INTERRUPTIONS,
          });
          effects = result.effects;
          return result.record === current ? undefined : result.record;
        },
        this.updateOptions(),
      );
      if (written !== undefined) this.records.set(id, written);
      await this.carryOut(id, effects, written?.rev);
      return written ?? this.records.get(id);
    } catch (error) {
      if (!isOrchError(error)) throw error;
      await this.reportOnce(`${id}:${error.code}:${error.message}`, error.message, error.hint === undefined ? [] : [error.hint], id);
      return undefined;
    }
  }

  private workflowFor(record: Pick<TaskRecord, 'spec'>): ResolvedWorkflow {
    return resolveWorkflow(this.options.config, record.spec);
  }

  private updateOptions(): { fence: Fence; stateDir: string } {
    return { fence: this.options.fence, stateDir: this.options.paths.stateDir };
  }

  private async carryOut(id: string, effects: readonly Effect[], rev: number | undefined): Promise<void> {
    for (const effect of effects) {
      switch (effect.type) {
        case 'log':
          await this.options.runLog.entry({
            category: effect.category,
            level: effect.level,
            message: effect.message,
            task_id: id,
            ...(rev !== undefined && { record_rev: rev }),
            ...(effect.details !== undefined && { details: [...effect.details] }),
          });
          break;
        case 'stop_command':
          this.running.get(id)?.controller.abort(effect.reason);
          break;
        case 'run_phase':
          this.wake();
          break;
        default: {
          const never: never = effect;
          throw new Error(`unknown effect ${JSON.stringify(never)}`);
        }
      }
    }
  }

  /** Starts NEW tasks and gives free workers to runnable ones: priority, then age. */
  private async schedule(): Promise<void> {
    const now = this.clock.now();
    for (const record of [...this.records.values()]) {
      if (record.deadline_at !== undefined && !isTerminal(record.state) && Date.parse(record.deadline_at) <= now) {
        await this.apply(record.id, { type: 'deadline_passed' });
      }
    }
    for (const candidate of orderRunnable([...this.records.values()])) {
      if (this.stopping) return;
      if (this.running.has(candidate.id) || !isRunnable(candidate, now, this.records)) continue;
      let record: TaskRecord | undefined = candidate;
      if (record.state === 'NEW') record = await this.apply(record.id, { type: 'start' });
      if (record === undefined) continue;
      const run = currentPhase(record);
      if (run === undefined || (run.not_before !== undefined && run.not_before > now)) continue;
      const worker = this.workers.take();
      if (worker === undefined) return;
      this.launch(record, run, worker);
    }
  }

  private launch(record: TaskRecord, run: PhaseRun, worker: string): void {
    const controller = new AbortController();
    const { paths, config } = this.options;
    const done = (async () => {
      await this.workers.busy(worker, record.id, run.phase);
      const event = await runAttempt({
        paths,
        runId: this.options.runId,
        record,
        run,
        n: nextAttemptNumber(record),
        workflow: this.workflowFor(record),
        worker,
        launcher: this.workers.launcherOf(worker),
        outputCapBytes: config.output_cap_bytes ?? DEFAULT_OUTPUT_CAP_BYTES,
        clock: this.clock,
        env: this.options.env ?? process.env,
        signal: controller.signal,
        onStarted: async attempt => {
          await this.apply(record.id, { type: 'attempt_started', attempt });
        },
      });
      await this.apply(record.id, event);
    })()
      .catch(async (error: unknown) => {
        await this.workers.failed(worker, error);
        await this.reportOnce(`${record.id}:crash:${String(error)}`, `Task ${record.id}: ${(error as Error).message ?? String(error)}`, [], record.id);
      })
      .finally(async () => {
        // The task counts as running until its worker is free again: otherwise a pass in between
        // sees neither a running task nor a free worker and takes the engine for idle.
        await this.workers.release(worker).catch(() => undefined);
        this.running.delete(record.id);
        this.wake();
      });
    this.running.set(record.id, { controller, done });
  }

  /** The earliest time a waiting task becomes runnable (backoff, rate-limit park, deadline). */
  private nextWakeAt(): number | undefined {
    let earliest: number | undefined;
    for (const record of this.records.values()) {
      if (isTerminal(record.state) || record.state === 'AWAITING_HUMAN') continue;
      for (const at of [record.next_attempt_at, record.deadline_at]) {
        if (at === undefined) continue;
        const ms = Date.parse(at);
        if (earliest === undefined || ms < earliest) earliest = ms;
      }
    }
    return earliest;
  }

  private async sleepUntil(at: number | undefined): Promise<void> {
    if (this.pending) return;
    const controller = new AbortController();
    const woken = new Promise<void>(resolve => {
      this.wakeUp = () => {
        controller.abort();
        resolve();
      };
    });
    const timer = at === undefined ? new Promise<void>(() => undefined) : this.clock.sleep(Math.max(0, at - this.clock.now()), controller.signal);
    await Promise.race([woken, timer]);
    controller.abort();
    this.wakeUp = undefined;
  }

  private async reportInvalid(path: string, error: OrchError): Promise<void> {
    await this.reportOnce(`file:${path}`, error.message, error.hint === undefined ? [] : [error.hint], undefined, path);
  }

  /** Logs an error once per key and message, so a pass over the tree does not repeat it forever. */
  private async reportOnce(key: string, message: string, details: string[], taskId?: string, file?: string): Promise<void> {
    if (this.reported.get(key) === message) return;
    this.reported.set(key, message);
    await this.options.runLog.entry({
      category: file === undefined ? 'error' : 'watcher',
      level: 'error',
      message,
      ...(taskId !== undefined && { task_id: taskId }),
      ...(details.length > 0 && { details }),
      ...(file !== undefined && { data: { file } }),
    });
  }
}
