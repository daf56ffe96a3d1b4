// One orchestrator per state dir (PRODUCT.md §7). session.json names the live orchestrator; a second
// one is refused (ORCH_SESSION_HELD, exit 3) unless the holder is proven dead, in which case it is
// taken over with the epoch raised by one: the fencing token every record write is checked against.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import { OrchError, hasCode } from '../errors.js';
import type { Owner, SessionRecord } from '../generated/types.js';
import { CURRENT_VERSION, schemaRef } from '../schema/validators.js';
import { createFileExclusive } from './durable-write.js';
import { updateDocument, writeLocked, type Fence } from './fenced-update.js';
import { loadIfExists, validateDocument } from './load.js';
import { withLock } from './lock.js';
import type { StatePaths } from './paths.js';
import { LIVENESS, livenessOf, selfIdentity } from './process-identity.js';
import { dropDeadTempLinks } from './temp-sweep.js';

/** How long another host must wait after our last heartbeat before it may take over. */
export const SESSION_LEASE_MS = 30_000;

export interface SessionOptions {
  clock?: Clock;
  /** Default SESSION_LEASE_MS. Heartbeat well within it (a third of it, say). */
  leaseMs?: number;
  runId?: string;
  /** Take over a session whose holder is proven dead (default true); false: refuse with ORCH_SESSION_HELD. */
  takeOverStale?: boolean;
}

export interface Session {
  /** The session document as last written by us. */
  readonly record: SessionRecord;
  readonly epoch: number;
  readonly runId: string;
  readonly path: string;
  /** The session this one replaced (stopped cleanly or taken over from a dead holder), if any. */
  readonly previousRecord: SessionRecord | undefined;
  /**
   * Renews heartbeat_at and lease_expires_at, and moves status on to `status` if given (never back: see
   * laterStatus). ORCH_EPOCH_FENCED if we were taken over.
   */
  heartbeat(status?: 'starting' | 'running' | 'stopping'): Promise<SessionRecord>;
  /** Marks the session stopped (the file stays, so the epoch keeps rising). False if it was no longer ours. */
  release(): Promise<boolean>;
  /** The fence for every write this session makes. */
  fence(): Fence;
}

export const HOLDER_STATES = { held: 'held', free: 'free', stale: 'stale' } as const;
export type HolderState = (typeof HOLDER_STATES)[keyof typeof HOLDER_STATES];

export interface HolderVerdict {
  state: HolderState;
  /** Why, in words (for messages and `orch doctor`). */
  reason: string;
}

/**
 * Whether the holder of `record` still holds the state dir. Stale only on proof of death: another
 * boot of this host, or its pid gone, reused (other start time) or a zombie. Another host's process
 * cannot be checked: it holds until its lease has expired by our clock.
 */
export function judgeHolder(record: SessionRecord, clock: Clock = systemClock): HolderVerdict {
  if (record.status === 'stopped') return { state: HOLDER_STATES.free, reason: 'it was stopped' };
  const owner = record.owner;
  if (owner.host !== hostname()) {
    const expires = Date.parse(record.lease_expires_at);
    if (clock.now() > expires) return { state: HOLDER_STATES.stale, reason: `its lease on host ${owner.host} expired at ${record.lease_expires_at}` };
    return { state: HOLDER_STATES.held, reason: `it runs on host ${owner.host} with a lease until ${record.lease_expires_at}` };
  }
  const liveness = livenessOf(owner);
  switch (liveness) {
    case LIVENESS.alive:
      return { state: HOLDER_STATES.held, reason: `process ${owner.pid} is alive` };
    case LIVENESS.dead:
      return { state: HOLDER_STATES.stale, reason: owner.boot_id === selfIdentity().boot_id ? `process ${owner.pid} is gone` : 'the machine was rebooted since' };
    case LIVENESS.unknown:
      return { state: HOLDER_STATES.held, reason: `process ${owner.pid} cannot be checked` };
    default: {
      const never: never = liveness;
      throw new Error(`unknown liveness ${String(never)}`);
    }
  }
}

type SessionStatus = SessionRecord['status'];

/**
 * A session's life, in order: `starting` from its creation until the run has recovered what a dead
 * one left (stopping its process groups may take a kill grace), `running` while it works, `stopping`
 * once it stops taking work (running commands are stopped or let finish), `stopped` when released.
 */
const STATUS_ORDER: { [S in SessionStatus]: number } = { starting: 0, running: 1, stopping: 2, stopped: 3 };

/**
 * The later of two statuses: a session never goes back. The periodic heartbeat says `running`; once
 * the run said `stopping`, that must not undo it.
 */
export function laterStatus(current: SessionStatus, next: SessionStatus): SessionStatus {
  return STATUS_ORDER[next] > STATUS_ORDER[current] ? next : current;
}

/** "pid 123 on host h since <time> (run <id>)": who holds a session, for messages. */
export function describeHolder(record: SessionRecord): string {
  return `pid ${record.owner.pid} on ${record.owner.host} since ${record.started_at} (run ${record.run_id})`;
}

/** The session document of `paths`, or undefined when there is none. */
export async function readSession(paths: StatePaths): Promise<SessionRecord | undefined> {
  await dropCreateLinks(paths.session);
  return (await loadIfExists('session', paths.session))?.doc;
}

/** How long a reader waits for a live creator to drop its temp name (a few syscalls, normally). */
const CREATE_LINK_WAIT_MS = 500;

/**
 * session.json is made by createFileExclusive, whose writer links its temp file to it and then
 * removes the temp name. A writer killed in between left a second link, which every reader refuses
 * (a shared hard link): nothing could ever start again. Its temp name is removed here; a live
 * creator's is waited for. A hard link made by anything else stays, and is refused by the read.
 */
async function dropCreateLinks(path: string): Promise<void> {
  const deadline = Date.now() + CREATE_LINK_WAIT_MS;
  while ((await dropDeadTempLinks(path)).pending.length > 0 && Date.now() < deadline) {
    await new Promise(done => setTimeout(done, 5));
  }
}

/** A run id from the time and 4 random hex digits: 2025-12-10T10-30-00-123Z-1a2b. */
export function newRunId(clock: Clock = systemClock): string {
  return `${new Date(clock.now()).toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
}

/** Becomes the orchestrator of `paths`, or throws ORCH_SESSION_HELD naming the live holder. */
export async function acquireSession(paths: StatePaths, options: SessionOptions = {}): Promise<Session> {
  const clock = options.clock ?? systemClock;
  const leaseMs = options.leaseMs ?? SESSION_LEASE_MS;
  const runId = options.runId ?? newRunId(clock);
  const path = paths.session;
  const me = selfIdentity();
  const owner: Owner = { pid: me.pid, start_time: me.start_time, boot_id: me.boot_id, host: me.host, run_id: runId };
  const fresh = (epoch: number, rev: number, previous: SessionRecord | undefined): SessionRecord => {
    const now = clock.now();
    const doc: Record<string, unknown> = {
      $schema: schemaRef('session', path, paths.stateDir),
      version: CURRENT_VERSION.session,
      rev,
      epoch,
      run_id: runId,
      status: 'starting',
      owner,
      started_at: new Date(now).toISOString(),
      heartbeat_at: new Date(now).toISOString(),
      lease_expires_at: new Date(now + leaseMs).toISOString(),
    };
    if (previous !== undefined) doc.previous = ownerOf(previous);
    return validateDocument('session', path, doc);
  };

  await mkdir(paths.machine, { recursive: true });
  for (;;) {
    const first = fresh(1, 1, undefined);
    if (await createFileExclusive(path, `${JSON.stringify(first, null, 2)}\n`)) {
      return openSession(path, first, undefined, clock, leaseMs);
    }
    // The file exists: judge its holder, and take over under the lock (re-judged after the lock,
    // so of two racing takers the second sees the first alive).
    const taken = await withLock(path, async lock => {
      await dropCreateLinks(path);
      const current = (await loadIfExists('session', path))?.doc;
      if (current === undefined) return undefined; // removed meanwhile: try to create it again
      const verdict = judgeHolder(current, clock);
      if (verdict.state === HOLDER_STATES.held || (verdict.state === HOLDER_STATES.stale && options.takeOverStale === false)) {
        throw heldError(path, current, verdict);
      }
      const next = fresh(current.epoch + 1, current.rev + 1, current);
      await writeLocked('session', path, lock, next as unknown as Record<string, unknown>);
      return { next, current };
    });
    if (taken !== undefined) return openSession(path, taken.next, taken.current, clock, leaseMs);
  }
}

function ownerOf(record: SessionRecord): Owner {
  return { ...record.owner, run_id: record.run_id };
}

function heldError(path: string, record: SessionRecord, verdict: HolderVerdict): OrchError {
  const stale = verdict.state === HOLDER_STATES.stale;
  const message = stale
    ? `${path} names a stale session, ${describeHolder(record)}: ${verdict.reason}`
    : `another orch holds this state dir: ${describeHolder(record)}`;
  return new OrchError('ORCH_SESSION_HELD', message, {
    details: { file: path, pid: record.owner.pid, host: record.owner.host, since: record.started_at, run_id: record.run_id, stale, reason: verdict.reason },
    hint: stale ? 'run `orch --resume` to take it over' : `wait for it to finish, or stop it (kill ${record.owner.pid} on ${record.owner.host})`,
  });
}

function openSession(path: string, first: SessionRecord, previousRecord: SessionRecord | undefined, clock: Clock, leaseMs: number): Session {
  let record = first;
  let released = false;
  const fence = (): Fence => ({ epoch: first.epoch, sessionPath: path });
  const ours = (current: SessionRecord | undefined): boolean =>
    current !== undefined && current.epoch === first.epoch && current.run_id === first.run_id;

  return {
    get record() {
      return record;
    },
    epoch: first.epoch,
    runId: first.run_id,
    path,
    previousRecord,
    fence,
    async heartbeat(status) {
      if (released) throw new OrchError('ORCH_INTERNAL', `session ${first.run_id} was already released`, { details: { file: path } });
      const written = await updateDocument(
        'session',
        path,
        current => {
          if (current === undefined || !ours(current)) {
            throw new OrchError('ORCH_EPOCH_FENCED', `${path} no longer names this session (epoch ${first.epoch}, run ${first.run_id})`, {
              details: { file: path, epoch: first.epoch, found: current?.epoch },
              hint: 'another orchestrator took over this state dir; this one must stop',
            });
          }
          const now = clock.now();
          return { ...current, status: laterStatus(current.status, status ?? current.status), heartbeat_at: new Date(now).toISOString(), lease_expires_at: new Date(now + leaseMs).toISOString() };
        },
        { fence: fence() },
      );
      record = written ?? record;
      return record;
    },
    async release() {
      if (released) return false;
      let written: SessionRecord | undefined;
      try {
        written = await updateDocument(
          'session',
          path,
          current => (current !== undefined && ours(current) ? { ...current, status: 'stopped' as const, heartbeat_at: new Date(clock.now()).toISOString() } : undefined),
          { fence: fence() },
        );
      } catch (error) {
        if (!hasCode(error, 'ORCH_EPOCH_FENCED')) throw error; // the lock or the disk failed: release may be retried
      }
      released = true;
      if (written === undefined) return false;
      record = written;
      return true;
    },
  };
}
