// The orchestrator's engine: the imperative shell around the pure machine. It compares specs with
// records (level-triggered: a pass acts on the difference, whatever events were missed; the tree is
// kept loaded between passes, see task-tree.ts), applies events through fenced record updates,
// carries out the effects, and runs phase commands in worker slots.
import { promises as fs } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Attempt, OrchConfig, TaskRecord } from '../generated/types.js';
import { systemClock, type Clock } from '../clock.js';
import { isOrchError, OrchError } from '../errors.js';
import { DEFAULT_MAX_INTERRUPTIONS, resolveWorkflow, type ResolvedWorkflow } from '../machine/workflow.js';
import { createRecord, currentPhase, transition, type Effect, type TaskEvent } from '../machine/transition.js';
import { findDependencyCycles, isRunnable, orderRunnable } from '../machine/schedule.js';
import { isTerminal } from '../machine/states.js';
import { firstOverlap, type Footprint } from '../machine/footprint.js';
import type { LogEntry, RunLog } from '../runlog/run-log.js';
import type { Fence } from '../store/fenced-update.js';
import { isReadFault, type LoadFailure } from '../store/load.js';
import { FinishedArchive } from '../store/finished-archive.js';
import { RecordRepair } from './record-repair.js';
import { RecordWrites } from './record-writes.js';
import { isSummary, sameStored, type StoredRecord } from './record-summary.js';
import { readRecordIndex, writeRecordIndex } from './record-index.js';
import { dependenciesOf, type KnownSpec } from './spec-summary.js';
import { processInbox } from './inbox.js';
import { ConfigWatch } from './config-reload.js';
import { pathExists, type StatePaths } from '../store/paths.js';
import type { LoadedSpec } from '../store/specs.js';
import { TaskWorktrees } from './task-worktrees.js';
import { AttemptLauncher, type Running } from './attempt-launcher.js';
import { Executors } from '../executors/executor.js';
import { WorkerPool } from './workers.js';
import { TaskTree, type SpecView } from './task-tree.js';
import { storedWaitLimit, Waits } from './waits.js';

/**
 * A spec file missing for this long is deleted: editors replace files by rename or by rm and create,
 * and for that moment the file is gone. Only deletions wait; new and changed specs act at once.
 */
export const SPEC_DELETE_GRACE_MS = 500;
/** A file that fails to load is reported once its content has not changed for this long. */
export const SETTLE_MS = 300;

/**
 * The reason a pass's wait is ended with: abort() without one makes a DOMException, stack trace
 * included, and every pass ends a wait (1.4 % of the main thread over 400 one-phase tasks, with the
 * runner's watchdog below).
 */
const WOKEN = 'woken';

/** The wait before a pass that failed (a full disk) is tried again. */
export const PASS_RETRY_MS = 1000;
/** Failed passes in a row after which a run that is not in watch mode gives up. */
export const MAX_FAILED_PASSES_ONCE = 10;


export interface EngineOptions {
  paths: StatePaths;
  config: OrchConfig;
  fence: Fence;
  runId: string;
  runLog: RunLog;
  clock?: Clock;
  random?: () => number;
  env?: NodeJS.ProcessEnv;
  /** configStamp() of config.json taken before `config` was read (a change in between is reloaded). */
  configStamp?: string;
  /**
   * A watcher hints at every change (hint()): a pass then looks only at the hinted files, and at every
   * file after resync(). Without one, every pass looks at every file.
   */
  watched?: boolean;
}

export interface EngineSummary {
  done: string[];
  failed: string[];
  awaiting: string[];
  cancelled: string[];
  costUsd: number;
}


export class Engine {
  /** Each task as the engine last wrote or read it: whole, or the summary of a finished one (record-summary.ts). */
  readonly records = new Map<string, StoredRecord>();
  /** Copies of finished records, from which a summarized one is restored (finished-archive.ts). */
  private readonly archive: FinishedArchive;
  /** Records not as the engine wrote them that apply cannot settle: edited offline, broken, removed, summarized (record-repair.ts). */
  private readonly repair: RecordRepair;
  /** Every write of a task record, in order per file, hand edits judged first (record-writes.ts). */
  private readonly writes: RecordWrites;
  /** The rev of the record index loadRecords read (0: none), for the one this run leaves (record-index.ts). */
  private indexRev: number | undefined;
  private readonly options: EngineOptions;
  private readonly clock: Clock;
  private readonly waits: Waits;
  /** Where attempts run (local, an ssh pool): made on first use, closed by closeExecutors(). */
  private readonly executors: Executors;
  /** The running attempts' supervision (attempt-launcher.ts). */
  private readonly launcher: AttemptLauncher;
  /** Remote attempts a dead run left, to be followed to their end once the run starts (orch --resume). */
  private readonly toFollow: { record: TaskRecord; attempt: Attempt }[] = [];
  /** Isolation worktree: each task's worktree, its checkpoints and merges (task-worktrees.ts). */
  private readonly worktrees: TaskWorktrees;
  private readonly workers: WorkerPool;
  /** Files reported invalid, with the message: reported again only when the problem changes. */
  private readonly reported = new Map<string, string>();
  private readonly configWatch: ConfigWatch;
  /** Specs the next pass compares with their records even if they did not change (specsToCompare). */
  private readonly compareAgain = new Set<string>();
  /** The ids of the tasks not finished (see active()). */
  private readonly activeIds = new Set<string>();
  /** Tasks whose spec file is missing, since when: deleted only after SPEC_DELETE_GRACE_MS. */
  private readonly missingSince = new Map<string, number>();
  /** Files that failed to load, with a stamp of their content: reported once it stops changing. */
  private readonly unsettled = new Map<string, { stamp: string; since: number }>();
  /** An extra wake-up time asked for by a pass (settling files, deletion grace). */
  private timerAt: number | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake() that came while no pass was waiting: the next wait returns at once (no lost wake-ups). */
  private pending = false;
  private stopping = false;
  private draining = false;
  /** previewStart's answers, by record object (a record is replaced, never changed, by a write). */
  private readonly startPreviews = new WeakMap<TaskRecord, { config: OrchConfig; runsCommand: boolean }>();
  /** Passes in a row that failed (see pass()). */
  private failedPasses = 0;
  /** Passes come from runUntilIdle's loop (not a caller's reconcile()): without a watcher, their looks at every file are spaced. */
  private inRunLoop = false;
  /** Watch mode: the engine outlives idleness and faults. */
  private stayAlive = false;
  /** Log lines of transitions the disk refused since the last one written. */
  private lostEntries = { count: 0, reason: '' };
  /** Aborted when the engine stops: ends the waits of writes being retried. */
  private readonly stopped = new AbortController();
  private readonly tree: TaskTree;
  /** Cycles among the specs, computed again only when the specs changed. */
  private cycles: { dependencyVersion: number; cycles: string[][] } | undefined;

  constructor(options: EngineOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.waits = new Waits(this.clock, undefined, storedWaitLimit(this.records, () => this.config));
    this.workers = new WorkerPool(options.paths, options.config, options.fence, this.clock);
    this.configWatch = new ConfigWatch(options.paths.config, options.paths.root, options.config, options.configStamp);
    this.tree = new TaskTree(options.paths, this.clock, options.watched === true);
    this.archive = new FinishedArchive(options.paths.archive);
    this.writes = new RecordWrites({
      paths: options.paths,
      fence: options.fence,
      clock: this.clock,
      stopped: this.stopped.signal,
      isStopping: () => this.stopping,
      known: id => this.records.has(id),
      whole: id => this.whole(id),
      keep: record => this.keep(record),
      written: record => this.noteWritten(record),
      step: (record, event) => this.step(record, event),
      backoffDecided: (id, at) => void this.waits.dueAt(id, at),
      carryOut: (id, effects, rev) => this.carryOut(id, effects, rev),
      log: entry => this.log(entry),
      reportOnce: (key, message, details, taskId) => this.reportOnce(key, message, details, taskId),
      restoreMissingRecord: id => this.repair.restoreMissingRecord(id),
      wholeRecord: id => this.repair.wholeRecord(id),
      takeAsFound: id => this.repair.takeAsFound(id),
      keepRejectedEdit: (id, edited, reason) => this.repair.keepRejectedEdit(id, edited, reason),
    });
    this.repair = new RecordRepair({
      paths: options.paths,
      clock: this.clock,
      archive: this.archive,
      stored: id => this.records.get(id),
      keep: record => this.keep(record),
      forget: id => {
        this.records.delete(id);
        this.compareAgain.add(id);
        this.wake();
      },
      unconfirmed: id => this.writes.isUnconfirmed(id),
      apply: (id, event) => this.apply(id, event),
      writeBack: (id, ours, before) => this.writes.writeBack(id, ours, before),
      settled: path => this.unsettled.delete(path),
      log: entry => this.log(entry),
    });
    // A copy of process.env, taken once: every read of process.env itself goes through a C++ getter,
    // and reading it whole per command was 1.4 % of the main thread in the throughput profile.
    const env = options.env ?? { ...process.env };
    this.executors = new Executors(() => this.config, options.paths.stateDir, env);
    this.worktrees = new TaskWorktrees({
      root: options.paths.root,
      env,
      config: () => this.config,
      record: id => this.whole(id),
      write: (id, events, seed) => this.writes.applyStrict(id, events, undefined, seed),
      log: entry => this.log(entry),
      reportOnce: (key, message, details, taskId) => this.reportOnce(key, message, details, taskId),
    });
    this.launcher = new AttemptLauncher(
      {
        paths: options.paths,
        runId: options.runId,
        env,
        clock: this.clock,
        config: () => this.config,
        workflowFor: record => this.workflowFor(record),
        isStopping: () => this.stopping,
        applyStrict: (id, events, onWritten, seed) => this.writes.applyStrict(id, events, onWritten, seed),
        applyUntilLanded: (id, event) => this.writes.applyUntilLanded(id, event),
        reportOnce: (key, message, details, taskId) => this.reportOnce(key, message, details, taskId),
        log: entry => this.log(entry),
        wake: () => this.wake(),
      },
      this.workers,
      this.executors,
      this.worktrees,
    );
  }

  /** The tasks whose attempt runs. */
  private get running(): ReadonlyMap<string, Running> {
    return this.launcher.running;
  }

  /**
   * Takes over a remote attempt a dead run left open (orch --resume): its command runs on (on its host,
   * in its job), and this run follows it to its end once it starts, then judges, checkpoints and
   * records that end as for an attempt of its own. False when its executor cannot follow it (the
   * config no longer has it): the attempt is then given up as interrupted.
   */
  followLeftover(record: TaskRecord, attempt: Attempt): boolean {
    if (attempt.remote === undefined || this.executors.follower(attempt.remote) === undefined) return false;
    this.keep(record);
    this.toFollow.push({ record, attempt });
    return true;
  }

  /** Closes the executors' connections (the run has ended: nothing of it runs). */
  async closeExecutors(): Promise<void> {
    await this.executors.close();
  }

  /**
   * Runs until nothing is running and nothing will become runnable by waiting (or `signal` aborts).
   * With `stayAlive` (watch mode) it does not stop when idle: it waits for wake() or a timer.
   */
  async runUntilIdle(signal?: AbortSignal, options: { stayAlive?: boolean } = {}): Promise<EngineSummary> {
    this.stayAlive = options.stayAlive === true;
    this.inRunLoop = true;
    await this.workers.open();
    for (const { record, attempt } of this.toFollow.splice(0)) this.launcher.follow(record, attempt);
    await this.configWatch.baseline();
    signal?.addEventListener('abort', () => this.wake(), { once: true });
    try {
      while (signal?.aborted !== true && !this.stopping) {
        this.pending = false;
        this.timerAt = undefined;
        await this.pass();
        const wait = this.nextWakeAt();
        if (this.draining && this.running.size === 0) break;
        if (options.stayAlive !== true && this.running.size === 0 && wait === undefined && !this.pending) {
          // Idle, as far as the engine knows: without a watcher, it ends only after a look at every file.
          if (this.tree.lookedAtEverything()) break;
          this.tree.lookAtEverything();
          continue;
        }
        await this.sleepUntil(wait);
      }
    } finally {
      this.inRunLoop = false;
      await this.stopAll('the orchestrator is stopping');
      await this.workers.close();
      await this.archive.settled();
      // A copy that failed after the last pass is said too: the run's section is still open.
      await this.reportWriteErrors();
      await this.saveRecordIndex();
    }
    return this.summary();
  }

  /** Leaves the finished records' summaries for the next start (record-index.ts), when they changed. Never throws: it is a cache. */
  private async saveRecordIndex(): Promise<void> {
    if (this.indexRev === undefined) return; // the records were never loaded (loadRecords)
    const content = this.tree.indexContent();
    if (content === undefined) return;
    const { recordIndex, stateDir } = this.options.paths;
    await writeRecordIndex(recordIndex, stateDir, this.indexRev + 1, content, this.clock.now()).catch(() => undefined);
  }

  private async reportWriteErrors(): Promise<void> {
    const archived = this.archive.takeFailure();
    if (archived !== undefined) {
      const message = `A finished task's record could not be copied into ${relative(this.options.paths.root, this.options.paths.archive)}: ${archived.message}`;
      await this.reportOnce(`archive:${message}`, message, ['the records are not affected; a hand edit of that record can then not be undone, only kept aside']).catch(() => undefined);
    }
    await this.reportWorkerWriteError();
  }

  private async reportWorkerWriteError(): Promise<void> {
    for (const why of this.workers.takeRebuilt()) {
      await this.reportOnce(`worker-rebuilt:${why}`, `A worker file did not load and was rebuilt: ${why}`, ['the worker files only show what each slot does; the task records are not affected']).catch(() => undefined);
    }
    const error = this.workers.takeWriteError();
    if (error === undefined) return;
    const message = `A worker file could not be written: ${(error as Error).message ?? String(error)}`;
    await this.reportOnce(`worker-write:${message}`, message, ['the worker files only show what each slot does; the task records are not affected']).catch(() => undefined);
  }

  /**
   * Reads the records folder (at start, before the first pass) and returns the records found; the
   * first pass then reads again only what changed since. They are the engine's copies from now on:
   * a record removed or edited before the first pass is restored or judged as any later one.
   */
  async loadRecords(): Promise<StoredRecord[]> {
    const index = readRecordIndex(this.options.paths.recordIndex);
    this.indexRev = index.rev;
    this.tree.seed(index);
    await this.tree.lookAtRecords();
    const records = this.tree.recordFiles().map(file => file.record);
    for (const record of records) this.keep(record);
    return records;
  }

  /**
   * One pass. A failure of the filesystem in it (a task record that cannot be created on a full
   * disk…) is reported and the pass is tried again shortly, looking at every file: the engine, and the
   * commands it runs, must outlive a full or read-only disk. A bug (not an OrchError) still throws.
   */
  private async pass(): Promise<void> {
    try {
      const unborn = await this.reconcile();
      await this.schedule(unborn);
      await this.reportWriteErrors();
      this.failedPasses = 0;
    } catch (error) {
      // Fenced: another orchestrator took over, this one must stop. A bug is not retried either.
      if (!isOrchError(error) || error.code === 'ORCH_EPOCH_FENCED') throw error;
      this.failedPasses += 1;
      // `--once` must end: a fault that never lifts (a ulimit) ends the run after a few tries.
      if (!this.stayAlive && this.failedPasses > MAX_FAILED_PASSES_ONCE) throw error;
      await this.reportOnce(`pass:${error.code}:${error.message}`, `A pass of the orchestrator failed, trying again: ${error.message}`, error.hint === undefined ? [] : [error.hint]);
      this.tree.lookAtEverything();
      this.wakeAtLatest(this.clock.now() + PASS_RETRY_MS);
    }
  }

  /** At start, before anything writes a record: the records edited by hand while no orchestrator ran are judged (record-repair.ts). Returns `records` as they are now. */
  judgeOfflineEdits(records: readonly StoredRecord[]): Promise<StoredRecord[]> {
    return this.repair.judgeOfflineEdits(records);
  }

  /** Takes `record` as the engine's own last-written version (at start, before the first pass). */
  adopt(record: TaskRecord): void {
    this.keep(record);
  }

  /** Interrupts a wait so the next pass starts now (an attempt that ended, an inbox file). */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** A watcher's hint: the next pass looks at `path` again (a folder, or no path: at every file). */
  hint(path?: string): void {
    this.tree.hint(path);
    this.wake();
  }

  /** The next pass looks at every file (at start, each resync_interval_s, after a watcher error). */
  resync(): void {
    this.tree.lookAtEverything();
    this.wake();
  }

  /** The records of the tasks whose command runs now (for a live view; do not mutate). */
  runningTasks(): TaskRecord[] {
    return [...this.running.keys()].flatMap(id => {
      const record = this.whole(id);
      return record === undefined ? [] : [record];
    });
  }

  /** Stops taking work and lets running commands finish; the run then ends. */
  drain(): void {
    this.draining = true;
    this.wake();
  }

  /** Stops taking work; running commands are stopped. */
  async stopAll(reason: string): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
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

  /** The config in force: the last good one (reloaded when the file changes). */
  get config(): OrchConfig {
    return this.configWatch.current;
  }

  /**
   * Compares the specs with the records and acts on each difference: new specs become NEW records,
   * changed ones are handed to the machine, deleted ones cancel their task (after a grace, so an
   * editor's save that replaces the file is not a deletion), hand edits of records are judged, and
   * inbox decisions applied. Returns the new specs: schedule creates their records.
   */
  async reconcile(): Promise<LoadedSpec[]> {
    const unborn: LoadedSpec[] = [];
    const { paths } = this.options;
    await this.reloadConfig();
    const changes = await this.tree.refresh(this.pathsWaitedOn(), { throttled: this.inRunLoop });
    const view = this.tree.specView();
    const now = this.clock.now();
    // Without a watcher, a look at every file skipped: a long-lived engine comes back for it (a change
    // since the last look is still seen); `--once` looks before it ends (runUntilIdle).
    const lookIn = this.tree.msToNextLook();
    if (lookIn !== undefined && this.stayAlive) this.wakeAtLatest(now + lookIn);
    const stillSettling = await this.settleInvalid([...view.errors, ...this.tree.records.failures()], now, path => dirname(path) !== paths.inbox);
    await this.judgeRecordFiles(changes.full ? undefined : changes.records);
    const cyclesChanged = this.cycles?.dependencyVersion !== view.dependencyVersion;
    const inCycle = new Set<string>();
    for (const cycle of this.cyclesOf(view)) {
      cycle.forEach(id => inCycle.add(id));
      await this.reportOnce(`cycle:${cycle.join(',')}`, `Tasks ${cycle.join(' → ')} depend on each other in a cycle: none of them can run`, [
        'remove one of the depends_on entries',
      ]);
    }
    for (const id of this.specsToCompare(changes.full || cyclesChanged, view)) {
      const spec = view.byId.get(id);
      if (spec === undefined) continue; // gone: the loop below handles a deleted spec
      this.missingSince.delete(id);
      if (inCycle.has(id)) continue;
      const record = this.records.get(id);
      if (record === undefined) {
        // A new task being launched has no record until its start is written (see schedule).
        if (this.running.has(id)) this.compareAgain.add(id);
        // Its record is there but does not load (torn, a newer version, not a regular file): reported
        // as a bad file, and the task waits until it loads. Creating or starting it would fail on that
        // file on every pass (and `--once` would never end), or write over the person's bytes.
        else if (this.tree.records.has(`${id}.json`)) this.compareAgain.add(id);
        else {
          const whole = await this.wholeSpec(spec);
          if (whole !== undefined) unborn.push(whole);
        }
      } else if (record.spec_hash !== spec.hash) {
        const whole = await this.wholeSpec(spec);
        if (whole === undefined || whole.hash === record.spec_hash) continue;
        const after = await this.apply(id, { type: 'spec_changed', spec: whole.spec, hash: whole.hash, mode: this.config.on_spec_change ?? 'next_phase' });
        if (after?.spec_hash !== whole.hash) this.compareAgain.add(id);
      }
    }
    for (const record of this.active()) {
      if (view.byId.has(record.id)) continue;
      const specFile = join(paths.stateDir, record.spec_file);
      // An invalid or half-written spec is not a deleted one: the task waits until the file is fixed.
      if (stillSettling.has(specFile) || this.tree.hasSpecFile(specFile) || pathExists(specFile)) continue;
      const since = this.missingSince.get(record.id) ?? now;
      this.missingSince.set(record.id, since);
      if (now - since >= SPEC_DELETE_GRACE_MS) await this.apply(record.id, { type: 'spec_deleted' });
      else this.wakeAtLatest(since + SPEC_DELETE_GRACE_MS);
    }
    const inboxFailures: LoadFailure[] = [];
    await processInbox({
      inboxDir: paths.inbox,
      record: id => this.records.get(id),
      apply: (id, event) => this.apply(id, event),
      log: entry => this.log(entry),
      reportInvalid: async (path, error) => {
        inboxFailures.push({ path, error }); // settled below, with the inbox's other failures of this pass
      },
    });
    await this.settleInvalid(inboxFailures, this.clock.now(), path => dirname(path) === paths.inbox);
    return unborn;
  }

  /**
   * The ids whose spec and record a pass compares: every spec on a full look (and when dependency
   * cycles changed: a task freed from a cycle may not have changed itself); otherwise only the specs
   * that changed since the last pass, and those a pass could not settle (a failed apply, a launch
   * under way). Comparing all 10,000 specs of a big project on every pass cost 5 ms per dropped spec.
   */
  private specsToCompare(everySpec: boolean, view: SpecView): Set<string> {
    const touched = this.tree.takeTouchedSpecs();
    const ids = everySpec ? new Set(view.byId.keys()) : new Set([...touched, ...this.compareAgain]);
    this.compareAgain.clear();
    return ids;
  }

  /** Files a pass must look at even unhinted: those settling after a failed load, and deleted specs. */
  private pathsWaitedOn(): string[] {
    const paths = [...this.unsettled.keys()];
    for (const id of this.missingSince.keys()) {
      const record = this.records.get(id);
      if (record !== undefined) paths.push(join(this.options.paths.stateDir, record.spec_file));
    }
    return paths;
  }

  /** Takes `record` as the engine's copy of its task, and keeps the set of unfinished tasks with it. */
  private keep(record: StoredRecord): void {
    this.records.set(record.id, record);
    if (isTerminal(record.state)) this.activeIds.delete(record.id);
    else this.activeIds.add(record.id);
  }

  /**
   * Tasks not finished: the only ones a pass schedules, times or checks for a deleted spec. Kept apart
   * so that a pass does not walk the finished ones (10,000 in a big project) several times.
   */
  private active(): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const id of this.activeIds) {
      const record = this.whole(id);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  /** The whole record the engine keeps of task `id`; undefined for none, or for a summary (see wholeRecord). */
  private whole(id: string): TaskRecord | undefined {
    const record = this.records.get(id);
    return record === undefined || isSummary(record) ? undefined : record;
  }

  /**
   * The spec of a task that needs it whole (a new task, a changed spec): a spec the start took from
   * the index is read now. Undefined when its file no longer loads or names another task: the next
   * pass looks at it again and compares what it finds.
   */
  private async wholeSpec(spec: KnownSpec): Promise<LoadedSpec | undefined> {
    const whole = await this.tree.wholeSpec(spec);
    if (whole === undefined) {
      this.compareAgain.add(spec.id);
      this.wake();
    }
    return whole;
  }

  private cyclesOf(view: SpecView): string[][] {
    if (this.cycles?.dependencyVersion !== view.dependencyVersion) {
      const specs = [...view.byId.values()];
      this.cycles = { dependencyVersion: view.dependencyVersion, cycles: findDependencyCycles(specs.map(s => ({ id: s.id, depends_on: [...dependenciesOf(s)] }))) };
    }
    return this.cycles.cycles;
  }

  /**
   * Records found on disk that differ from the engine's own last write are hand edits: judged by
   * apply. `names` are the record files that changed since the last look (undefined: all of them).
   * A record the engine has not seen yet (at start) is taken as it is.
   */
  private async judgeRecordFiles(names: Set<string> | undefined): Promise<void> {
    for (const id of this.missingRecords(names)) await this.repair.restoreMissingRecord(id);
    for (const { record: onDisk } of this.tree.recordFiles(names)) {
      const ours = this.records.get(onDisk.id);
      // Unknown to us: taken as it is, unless it is the unconfirmed first write of a new task (rolled back by apply).
      if (ours === undefined && !this.writes.isUnconfirmed(onDisk.id)) this.keep(onDisk);
      else if (ours === undefined || !sameStored(ours, onDisk)) await this.apply(onDisk.id);
    }
  }

  /**
   * Tasks the engine knows whose record file is gone (`names`: the record files that changed since
   * the last look; undefined: every task is checked). A task being created (no record yet) is not
   * known to the engine until its first write lands.
   */
  private missingRecords(names: Set<string> | undefined): string[] {
    const ids = names === undefined ? [...this.records.keys()] : [...names].filter(name => name.endsWith('.json')).map(name => name.slice(0, -'.json'.length));
    return ids.filter(id => this.records.has(id) && !this.tree.records.has(`${id}.json`));
  }

  private async reloadConfig(): Promise<void> {
    const refresh = await this.configWatch.refresh();
    if (refresh.kind === 'reloaded') {
      await this.log({ category: 'watcher', level: 'info', message: 'Config reloaded' });
    } else if (refresh.kind === 'invalid') {
      await this.reportOnce('config', `Config is invalid, keeping the last good one: ${refresh.error.message}`, refresh.error.hint === undefined ? [] : [refresh.error.hint]);
    }
  }

  /**
   * Reports a file that failed to load only once its content has stopped changing for
   * SETTLE_MS: right after an event a file may be half-written. Returns the paths still settling.
   * `failures` are every failure among the paths `covers` (a file of those no longer failing is
   * forgotten): the tree's files and the inbox's are settled by two calls, each forgetting only its own.
   */
  private async settleInvalid(failures: readonly LoadFailure[], now: number, covers: (path: string) => boolean): Promise<Set<string>> {
    const settling = new Set<string>();
    const seen = new Set<string>();
    for (const { path, error } of failures) {
      seen.add(path);
      const stamp = await fs.stat(path).then(s => `${s.ino}:${s.size}:${s.mtimeMs}`, () => 'gone');
      const known = this.unsettled.get(path);
      if (known === undefined || known.stamp !== stamp) {
        this.unsettled.set(path, { stamp, since: now });
        settling.add(path);
        this.wakeAtLatest(now + SETTLE_MS);
      } else if (now - known.since < SETTLE_MS) {
        settling.add(path);
        this.wakeAtLatest(known.since + SETTLE_MS);
      } else if (isReadFault(error)) {
        // Not the file's fault (EMFILE, EIO): reported, and read again soon.
        await this.reportInvalid(path, error);
        this.wakeAtLatest(now + PASS_RETRY_MS);
      } else if (!(await this.repair.restoreBrokenRecord(path, error))) {
        await this.reportInvalid(path, error);
      }
    }
    for (const path of [...this.unsettled.keys()]) if (!seen.has(path) && covers(path)) this.unsettled.delete(path);
    return settling;
  }

  private wakeAtLatest(at: number): void {
    this.timerAt = this.timerAt === undefined ? at : Math.min(this.timerAt, at);
  }

  private newRecord(spec: LoadedSpec): TaskRecord {
    return createRecord(spec.spec, spec.id, relative(this.options.paths.stateDir, spec.path), spec.hash, this.clock.now());
  }

  /** `record` is what the engine just wrote: its own copy, and the tree's (its echo is not a hand edit). */
  private noteWritten(record: TaskRecord): void {
    this.keep(record);
    if (isTerminal(record.state)) this.archive.save(record);
    if (!this.tree.noteRecordWritten(record)) this.wake();
  }

  /**
   * Applies `event` (or, without one, just settles a hand edit) to task `id`, then carries out the
   * effects (record-writes.ts). A failure is reported once and resolves to undefined: a pass goes on
   * with the other tasks, and the next pass looks again.
   */
  apply(id: string, event?: TaskEvent): Promise<TaskRecord | undefined> {
    return this.writes.apply(id, event);
  }

  /** One pure step of the machine with this engine's context. */
  private step(record: TaskRecord, event: TaskEvent): { record: TaskRecord; effects: readonly Effect[] } {
    const workflow = this.workflowFor(event.type === 'spec_changed' ? { ...record, spec: event.spec } : record);
    return transition(record, event, {
      now: this.clock.now(),
      workflow,
      random: this.options.random ?? Math.random,
      maxInterruptions: this.config.max_interruptions ?? DEFAULT_MAX_INTERRUPTIONS,
    });
  }

  /**
   * Whether starting this NEW task leads straight to a phase that runs a command (not a gate, not
   * nothing to run), with the preview when one was made now. The answer is kept per record and config: finding out is a preview of the start (a clone of
   * the record and a workflow resolution), and every pass asks it of every waiting task, free worker
   * or not (200 queued tasks: 200 previews per attempt's end, a quarter of the main thread).
   */
  private previewStart(record: TaskRecord): { runsCommand: boolean; preview?: TaskRecord } {
    const known = this.startPreviews.get(record);
    if (known !== undefined && known.config === this.config) return { runsCommand: known.runsCommand };
    // The preview itself is not kept: its history holds this moment's time.
    const preview = this.step(record, { type: 'start' }).record;
    const runsCommand = currentPhase(preview) !== undefined;
    this.startPreviews.set(record, { config: this.config, runsCommand });
    return { runsCommand, preview };
  }

  private workflowFor(record: Pick<TaskRecord, 'spec'>): ResolvedWorkflow {
    return resolveWorkflow(this.config, record.spec);
  }

  private async carryOut(id: string, effects: readonly Effect[], rev: number | undefined): Promise<void> {
    for (const effect of effects) {
      switch (effect.type) {
        case 'log':
          await this.log({
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

  /**
   * Writes a run log entry; never throws. The records are the truth: a line the disk refuses (full,
   * read-only) is counted, not retried, and said once the log can be written again. A failed log
   * line must never stop the engine (reporting a failed write is itself a write).
   */
  private async log(entry: LogEntry): Promise<void> {
    try {
      await this.options.runLog.entry(entry);
    } catch (error) {
      this.lostEntries = { count: this.lostEntries.count + 1, reason: (error as Error).message ?? String(error) };
      return;
    }
    if (this.lostEntries.count === 0) return;
    const { count, reason } = this.lostEntries;
    this.lostEntries = { count: 0, reason: '' };
    await this.options.runLog
      .entry({ category: 'error', level: 'warning', message: `${count} run log entr${count === 1 ? 'y' : 'ies'} could not be written: ${reason}`, details: ['the task records hold every transition (orch show ID)'] })
      .catch(() => undefined);
  }

  /**
   * Starts NEW tasks and gives free workers to runnable ones: priority, then age. A new spec (`unborn`,
   * no record yet) that gets a worker now is created in the same write as its start and its first
   * attempt: one durable write fewer between a dropped spec and its command. The record then appears
   * once the command is spawned (which runs meanwhile, carrying its session marker). Every other new spec is
   * created NEW here.
   */
  private async schedule(unborn: readonly LoadedSpec[] = []): Promise<void> {
    const now = this.clock.now();
    const active = this.active();
    for (const record of active) {
      if (record.deadline_at !== undefined && Date.parse(record.deadline_at) <= now) {
        await this.apply(record.id, { type: 'deadline_passed' });
      }
    }
    const seeds = new Map(unborn.map(spec => [spec.id, { spec, record: this.newRecord(spec) }]));
    try {
      await this.launchRunnable([...this.active(), ...[...seeds.values()].map(seed => seed.record)], seeds, now);
    } finally {
      for (const { spec } of seeds.values()) await this.writes.create(this.newRecord(spec));
      // Those created here are scheduled by the next pass, which must come even in --once.
      if (seeds.size > 0) this.wake();
    }
  }

  /** schedule's loop: a seed that is launched is taken out of `seeds`. */
  private async launchRunnable(candidates: TaskRecord[], seeds: Map<string, { record: TaskRecord }>, now: number): Promise<void> {
    // Started tasks' footprints: a NEW task whose declared paths meet one of them waits (and those
    // started in this loop join them). Made only once a NEW task declares paths: most passes have none.
    let started: { id: string; footprint: Footprint }[] | undefined;
    const startedNow = (): { id: string; footprint: Footprint }[] =>
      (started ??= this.active()
        .filter(record => record.state !== 'NEW')
        .map(record => ({ id: record.id, footprint: this.worktrees.footprintOf(record) })));
    for (const candidate of orderRunnable(candidates)) {
      if (this.stopping || this.draining) return;
      // Its backoff counted on the monotonic clock (a clock set back a day does not hold it a day).
      const at = this.waits.judgeAt(candidate.id, candidate.next_attempt_at, now);
      if (this.running.has(candidate.id) || !isRunnable(candidate, at, this.records)) continue;
      const seed = seeds.get(candidate.id)?.record;
      const backoffUntil = this.launcher.backoffUntil(candidate.id);
      if (backoffUntil !== undefined && backoffUntil > now) {
        this.wakeAtLatest(backoffUntil);
        continue;
      }
      let record: TaskRecord | undefined = candidate;
      let startFirst = false;
      if (record.state === 'NEW') {
        const footprint = this.worktrees.footprintOf(record);
        if (footprint.globs.length > 0) {
          const overlap = firstOverlap(footprint, startedNow());
          if (overlap !== undefined) {
            await this.sayWaitsOnce(record.id, overlap);
            continue;
          }
          startedNow().push({ id: record.id, footprint });
        }
        // A NEW task whose first phase runs a command starts in the same write that records the
        // command's identity (one write fewer before the command runs); any other start (a gate,
        // nothing to run) is written now.
        const { runsCommand, preview } = this.previewStart(record);
        if (runsCommand && this.workers.hasFree()) {
          record = preview ?? this.step(record, { type: 'start' }).record;
          startFirst = true;
        } else if (seed !== undefined) {
          continue; // created NEW below; started by the next pass
        } else if (!runsCommand) {
          record = await this.apply(record.id, { type: 'start' });
        }
      }
      if (record === undefined) continue;
      const run = currentPhase(record);
      if (run === undefined || (run.not_before !== undefined && run.not_before > at)) continue;
      const worker = this.workers.take();
      if (worker === undefined) return;
      seeds.delete(candidate.id);
      this.launcher.launch(record, run, worker, startFirst, seed);
    }
  }

  /** The run log says once per task and blocker why a NEW task does not start. */
  private async sayWaitsOnce(id: string, overlap: { id: string; where: string }): Promise<void> {
    const key = `${id}:paths:${overlap.id}`;
    if (this.reported.has(key)) return;
    this.reported.set(key, overlap.where);
    await this.log({ category: 'task', level: 'info', task_id: id, message: `Task ${id} waits for task ${overlap.id}: their paths overlap (${overlap.where})` });
  }

  /** The earliest time a waiting task becomes runnable (backoff, rate-limit park, deadline). */
  private nextWakeAt(): number | undefined {
    let earliest: number | undefined = this.timerAt;
    for (const record of this.active()) {
      if (record.state === 'AWAITING_HUMAN') continue;
      const due = this.waits.dueAt(record.id, record.next_attempt_at);
      const deadline = record.deadline_at === undefined ? undefined : Date.parse(record.deadline_at);
      for (const ms of [due, deadline]) {
        if (ms !== undefined && (earliest === undefined || ms < earliest)) earliest = ms;
      }
    }
    return earliest;
  }

  private async sleepUntil(at: number | undefined): Promise<void> {
    if (this.pending) return;
    const controller = new AbortController();
    const woken = new Promise<void>(resolve => {
      this.wakeUp = () => {
        controller.abort(WOKEN);
        resolve();
      };
    });
    const timer = at === undefined ? new Promise<void>(() => undefined) : this.clock.sleep(Math.max(0, at - this.clock.now()), controller.signal);
    await Promise.race([woken, timer]);
    controller.abort(WOKEN);
    this.wakeUp = undefined;
  }

  private async reportInvalid(path: string, error: OrchError): Promise<void> {
    await this.reportOnce(`file:${path}`, error.message, error.hint === undefined ? [] : [error.hint], undefined, path);
  }

  /** Logs an error once per key and message, so a pass over the tree does not repeat it forever. */
  private async reportOnce(key: string, message: string, details: string[], taskId?: string, file?: string): Promise<void> {
    if (this.reported.get(key) === message) return;
    this.reported.set(key, message);
    await this.log({
      category: file === undefined ? 'error' : 'watcher',
      level: 'error',
      message,
      ...(taskId !== undefined && { task_id: taskId }),
      ...(details.length > 0 && { details }),
      ...(file !== undefined && { data: { file } }),
    });
  }
}
