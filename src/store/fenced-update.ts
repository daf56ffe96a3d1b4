// Read-modify-write of one machine-owned file (PRODUCT.md §2): under the file's lock (or, for the
// session owner's own files, under its session: owned-file.ts), fenced by the writer's session epoch
// and (optionally) the rev it read, validated before a byte is written.
import { lstatSync, readFileSync } from 'node:fs';
import { OrchError } from '../errors.js';
import { CURRENT_VERSION, schemaRef, type KindShapes } from '../schema/validators.js';
import { signatureOf } from './cached-folder.js';
import { writeFileDurable } from './durable-write.js';
import { loadIfExists, validateDocument } from './load.js';
import { withLock, type HeldLock, type LockOptions } from './lock.js';
import { crashPoint } from '../testing/crash-points.js';
import type { TaskRecord } from '../generated/types.js';
import { sealOf } from './record-seal.js';

/**
 * The kinds written by read-modify-write, and whether their schema has an `epoch` (checked against
 * schemas/*.schema.json by test/store/fenced-update.ts). Decisions carry a rev but no epoch.
 */
export const FENCED_KINDS = {
  record: { epoch: true },
  worker: { epoch: true },
  session: { epoch: true },
  decision: { epoch: false },
} as const;
export type FencedKind = keyof typeof FENCED_KINDS;

/**
 * What this process last wrote or read of a file, by path, with the file's stat signature then. Every
 * write of a state file replaces its inode (temp file + rename, or link), so while the signature
 * holds, the document is the one we know: the read, parse and validation are skipped. (An in-place
 * rewrite to the same size within one tick of the filesystem clock would not show; no writer of ours
 * writes in place, and a person's editor almost never does it within milliseconds of our write.)
 */
const known = new Map<string, { signature: string; doc: unknown }>();

function currentSignature(path: string): string | undefined {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  return stats === undefined ? undefined : signatureOf(stats);
}

/** The document at `path` (undefined: no file), from `known` while its signature holds. */
async function loadKnown<K extends FencedKind | 'session'>(kind: K, path: string): Promise<KindShapes[K] | undefined> {
  const signature = currentSignature(path);
  if (signature === undefined) return undefined;
  const cached = known.get(path);
  if (cached?.signature === signature) return cached.doc as KindShapes[K];
  const loaded = await loadIfExists(kind, path);
  if (loaded === undefined) return undefined;
  // Cached under the signature taken before the read: a change in between shows as a new signature.
  known.set(path, { signature, doc: loaded.doc });
  return loaded.doc;
}

/** The writer's fencing token: its session epoch, and the session file that may have moved past it. */
export interface Fence {
  epoch: number;
  sessionPath?: string;
}

export interface UpdateOptions {
  fence: Fence;
  /** Refuse (ORCH_REV_CONFLICT) unless the file is at this rev. */
  expectRev?: number;
  lock?: LockOptions;
  /** When given, `$schema` is set to the schema's path under `<stateDir>/schemas/`, relative to the file. */
  stateDir?: string;
}

/**
 * A document as mutate returns it: the stamped fields (`version`, `rev`, `epoch`, `$schema`) are set
 * by the writer. Distributive, so a generic caller's literals (`status: 'busy'`) are not widened.
 */
export type Draft<T> = T extends unknown ? Omit<T, 'version' | 'rev' | 'epoch' | '$schema'> & { version?: number; rev?: number; epoch?: number; $schema?: string } : never;

export type Mutate<K extends FencedKind> = (
  current: KindShapes[K] | undefined,
) => Draft<KindShapes[K]> | undefined | Promise<Draft<KindShapes[K]> | undefined>;


/**
 * Under the lock on `path`: loads the current document, checks the fence and `expectRev`, and writes
 * what `mutate` returns (undefined: no write) with rev + 1, the fence's epoch and the current version.
 * Resolves to the document written, or undefined when nothing was.
 * Throws ORCH_EPOCH_FENCED, ORCH_REV_CONFLICT, ORCH_SCHEMA_INVALID (nothing written), ORCH_LOCK_*.
 */
export function updateDocument<K extends FencedKind>(kind: K, path: string, mutate: Mutate<K>, options: UpdateOptions): Promise<KindShapes[K] | undefined> {
  return withLock(path, lock => updateLocked(kind, path, lock, mutate, options), options.lock);
}

/** Creates the document at `path`; ORCH_REV_CONFLICT if the file already exists. */
export async function createDocument<K extends FencedKind>(kind: K, path: string, doc: Draft<KindShapes[K]>, options: Omit<UpdateOptions, 'expectRev'>): Promise<KindShapes[K]> {
  const written = await updateDocument(
    kind,
    path,
    current => {
      if (current !== undefined) {
        throw new OrchError('ORCH_REV_CONFLICT', `${path} already exists (rev ${current.rev}); not created again`, {
          details: { file: path, expected: 0, found: current.rev },
        });
      }
      return doc;
    },
    options,
  );
  return written as KindShapes[K];
}

/** updateDocument's body, for a caller that already holds `lock` on `path`. */
export async function updateLocked<K extends FencedKind>(kind: K, path: string, lock: HeldLock, mutate: Mutate<K>, options: UpdateOptions): Promise<KindShapes[K] | undefined> {
  const { fence } = options;
  const current = await loadKnown(kind, path);
  const currentEpoch = FENCED_KINDS[kind].epoch ? (current as { epoch?: number } | undefined)?.epoch : undefined;
  if (currentEpoch !== undefined && currentEpoch > fence.epoch) {
    throw fenced(path, fence.epoch, currentEpoch, `${path} was written by session epoch ${currentEpoch}`);
  }
  await assertSessionEpoch(fence, path);
  if (options.expectRev !== undefined && options.expectRev !== (current?.rev ?? 0)) {
    throw new OrchError('ORCH_REV_CONFLICT', `${path} is at rev ${current?.rev ?? 0}, not rev ${options.expectRev}: it changed since it was read`, {
      details: { file: path, expected: options.expectRev, found: current?.rev ?? 0 },
      hint: 'read it again and retry',
    });
  }
  const draft = await mutate(current === undefined ? undefined : structuredClone(current));
  if (draft === undefined) return undefined;
  // Past the file's rev and the draft's own: when an older copy was put back over a newer one (a hand
  // edit made from a stale read), the writer's newer document goes back with a rev no reader has seen.
  // A new file starts at rev 1, whatever the draft it was made from says.
  const rev = current === undefined ? 1 : Math.max(current.rev, draft.rev ?? 0) + 1;
  const next: Record<string, unknown> = { ...draft, version: CURRENT_VERSION[kind], rev };
  if (FENCED_KINDS[kind].epoch) next.epoch = fence.epoch;
  if (options.stateDir !== undefined) next.$schema = schemaRef(kind, path, options.stateDir);
  return writeLocked(kind, path, lock, next);
}

/**
 * Throws ORCH_EPOCH_FENCED (naming `target`) when the fence's session file names a newer epoch than
 * the fence: another orchestrator took over. Cheap enough for every append: session.json is re-read
 * only when its stat signature changed (each heartbeat replaces it, so at most once a heartbeat).
 */
export async function assertSessionEpoch(fence: Fence, target: string): Promise<void> {
  if (fence.sessionPath === undefined) return;
  const session = await loadKnown('session', fence.sessionPath);
  if (session !== undefined && session.epoch > fence.epoch) {
    throw fenced(target, fence.epoch, session.epoch, `the session in ${fence.sessionPath} is at epoch ${session.epoch}`);
  }
}

/**
 * assertSessionEpoch without a wait, for the last moment before a write (an owned file's assertHeld).
 * From the cache while session.json's signature holds; else its epoch is read as it is (a session file
 * that does not parse here is left to the async check, which validates it).
 */
export function assertSessionEpochSync(fence: Fence, target: string): void {
  if (fence.sessionPath === undefined) return;
  const signature = currentSignature(fence.sessionPath);
  if (signature === undefined) return;
  const cached = known.get(fence.sessionPath);
  let epoch: unknown;
  if (cached?.signature === signature) epoch = (cached.doc as { epoch?: unknown }).epoch;
  else {
    try {
      epoch = (JSON.parse(readFileSync(fence.sessionPath, 'utf8')) as { epoch?: unknown }).epoch;
    } catch {
      return;
    }
  }
  if (typeof epoch === 'number' && epoch > fence.epoch) {
    throw fenced(target, fence.epoch, epoch, `the session in ${fence.sessionPath} is at epoch ${epoch}`);
  }
}

/**
 * Validates `doc` as `kind` and writes it to `path` as 2-space JSON with a trailing newline, if the
 * lock is still held. The caller has stamped rev and epoch. An invalid document is never written.
 */
export async function writeLocked<K extends FencedKind>(kind: K, path: string, lock: HeldLock, doc: Record<string, unknown>): Promise<KindShapes[K]> {
  const checked = validateDocument(kind, path, doc);
  // A record carries the seal of what orch wrote, so an edit made while no orchestrator runs is found.
  const valid = kind === 'record' ? ({ ...checked, seal: sealOf(checked as TaskRecord) } as KindShapes[K]) : checked;
  const text = `${JSON.stringify(valid, null, 2)}\n`;
  crashPoint('update.before-write');
  known.delete(path);
  // The signature of the file we wrote, taken at its rename: a stat after the fsync could be of a file
  // put there meanwhile, which would then pass for ours (a hand edit unseen, a FIFO never judged).
  // The lock (or the session's epoch, for an owned file) is checked once the new content is durable,
  // right before the rename, not before the write: a process stopped during the fsync and woken after
  // a takeover must not land its write (the test "fault-stall" saw one: a new task's record, created
  // by the stalled orchestrator after the takeover). A fenced writer loses a temp file written in vain.
  const written = await writeFileDurable(path, text, { beforeRename: () => lock.assertHeld() });
  if (written !== undefined) known.set(path, { signature: signatureOf(written), doc: valid });
  return valid;
}

/** The signature `doc` had when this process wrote it to `path`, while nothing has replaced it in our cache. */
export function writtenSignature(path: string, doc: unknown): string | undefined {
  const entry = known.get(path);
  return entry !== undefined && entry.doc === doc ? entry.signature : undefined;
}

function fenced(path: string, ours: number, theirs: number, why: string): OrchError {
  return new OrchError('ORCH_EPOCH_FENCED', `refusing to write ${path}: ${why}, newer than this writer's epoch ${ours}`, {
    details: { file: path, epoch: ours, found: theirs },
    hint: 'another orchestrator took over this state dir; this one must stop',
  });
}
