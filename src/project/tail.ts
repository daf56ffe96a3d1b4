// `orch tail [-f] [ID]`: the output of attempts, from their artifacts (stdout.log, stderr.log), and
// following it by polling the files and the record until the attempt ends. Library code: output goes
// to the caller's callbacks, never to the terminal.
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { systemClock, type Clock } from '../clock.js';
import { OrchError } from '../errors.js';
import type { Attempt, TaskRecord } from '../generated/types.js';
import { openAttempt } from '../machine/record.js';
import { loadIfExists } from '../store/load.js';
import { assertSafeId, recordPath, type StatePaths } from '../store/paths.js';
import { LIVENESS, livenessOf } from '../store/process-identity.js';
import { openInside } from '../store/open-inside.js';
import { loadSpecs } from '../store/specs.js';
import { readLastLines, type TailText } from './read-back.js';
import { readRecords } from './read-state.js';
import { artifactsDirOf } from './show.js';

/** How often -f looks at the files and the record. */
export const TAIL_POLL_MS = 250;
/** An open attempt whose process has been dead this long, with no orchestrator closing it, is over. */
export const DEAD_PROCESS_GRACE_MS = 3000;
/** Read at most this much of one stream per poll, so several followed attempts all get their turn. */
export const READ_SLICE_BYTES = 1024 * 1024;

export const STREAMS = ['stdout', 'stderr'] as const;
export type StreamName = (typeof STREAMS)[number];

export interface TailTarget {
  task_id: string;
  n: number;
  phase: string;
  step: string | null;
  /** The phase's provider (its client's stream is rendered for people by `orch tail`). */
  provider: string | null;
  running: boolean;
  /** How it ended (null while it runs). */
  reason: string | null;
  exit_code: number | null;
  started_at: string;
  ended_at: string | null;
  stdout: string;
  stderr: string;
}

function targetOf(paths: StatePaths, record: TaskRecord, attempt: Attempt): TailTarget {
  let dir: string;
  try {
    dir = artifactsDirOf(paths, attempt);
  } catch (error) {
    throw new OrchError('ORCH_SCHEMA_INVALID', `${recordPath(paths, record.id)}: attempt ${attempt.n}: ${(error as Error).message}`, {
      cause: error,
      details: { file: recordPath(paths, record.id), attempt: attempt.n },
      hint: 'a record names its attempts\' artifacts under the state dir; restore the record or run `orch doctor`',
    });
  }
  return {
    task_id: record.id,
    n: attempt.n,
    phase: attempt.phase,
    step: attempt.step_id ?? null,
    provider: attempt.provider ?? null,
    running: attempt.ended_at === undefined,
    reason: attempt.reason ?? null,
    exit_code: attempt.exit_code ?? null,
    started_at: attempt.started_at,
    ended_at: attempt.ended_at ?? null,
    stdout: join(dir, 'stdout.log'),
    stderr: join(dir, 'stderr.log'),
  };
}

/**
 * What to tail: the latest attempt of task `id` (none yet: an empty list), or every running attempt
 * when no id is given. ORCH_NOT_FOUND (exit 2) for an id with neither a record nor a spec.
 */
export async function tailTargets(paths: StatePaths, id?: string): Promise<TailTarget[]> {
  if (id === undefined) {
    const { records } = await readRecords(paths);
    return records.flatMap(record => {
      const open = openAttempt(record);
      return open === undefined ? [] : [targetOf(paths, record, open)];
    });
  }
  assertSafeId(id, 'task id');
  const record = (await loadIfExists('record', recordPath(paths, id)))?.doc;
  if (record === undefined) {
    if ((await loadSpecs(paths.tasks)).specs.some(spec => spec.id === id)) return [];
    throw new OrchError('ORCH_NOT_FOUND', `no task "${id}": it has no record and no spec`, { details: { id }, hint: 'run `orch status` to list the tasks' });
  }
  const latest = record.attempts.at(-1);
  return latest === undefined ? [] : [targetOf(paths, record, latest)];
}

/** Why the attempt of `target` is over, or undefined while it runs. `deadSince` tracks a dead process. */
async function endOf(paths: StatePaths, target: TailTarget, now: number, state: { deadSince?: number }): Promise<string | undefined> {
  let record: TaskRecord | undefined;
  try {
    record = (await loadIfExists('record', recordPath(paths, target.task_id)))?.doc;
  } catch {
    return undefined; // unreadable for now (a hand edit being fixed): look again next time
  }
  if (record === undefined) return 'its record is gone';
  const attempt = record.attempts.find(a => a.n === target.n);
  if (attempt === undefined) return 'the attempt is no longer in the record';
  if (attempt.ended_at !== undefined) {
    const exit = attempt.exit_code === null || attempt.exit_code === undefined ? (attempt.signal ? `, signal ${attempt.signal}` : '') : `, exit ${attempt.exit_code}`;
    return `ended: ${attempt.reason ?? 'unknown'}${exit}`;
  }
  if (attempt.process !== undefined && livenessOf(attempt.process) === LIVENESS.dead) {
    state.deadSince ??= now;
    if (now - state.deadSince >= DEAD_PROCESS_GRACE_MS) return 'its process is gone and no orchestrator closed the attempt (run `orch --resume`)';
  } else {
    delete state.deadSince;
  }
  return undefined;
}

/**
 * The last `count` lines of one stream of `target` (undefined while it does not exist). Read only from
 * inside the state dir: a symlink anywhere on the way is refused (ORCH_NOT_REGULAR_FILE), never followed.
 */
export async function lastLinesOf(paths: StatePaths, target: TailTarget, stream: StreamName, count: number): Promise<TailText | undefined> {
  return readLastLines(target[stream], count, { within: paths.stateDir });
}

/**
 * New output of `path` from `offset` (a file that shrank was replaced: read it from the start). Opened
 * afresh at every poll, and checked afresh: a link put on its way since the last poll is refused.
 */
async function readFrom(paths: StatePaths, path: string, offset: number, decoder: StringDecoder): Promise<{ text: string; offset: number; bytes: number }> {
  const handle = await openInside(paths.stateDir, path);
  if (handle === undefined) return { text: '', offset, bytes: 0 };
  try {
    const { size } = await handle.stat();
    const from = size < offset ? 0 : offset;
    const length = Math.min(size - from, READ_SLICE_BYTES);
    if (length <= 0) return { text: '', offset: from, bytes: 0 };
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, from);
    return { text: decoder.write(buffer.subarray(0, bytesRead)), offset: from + bytesRead, bytes: bytesRead };
  } finally {
    await handle.close();
  }
}

export interface FollowOptions {
  signal?: AbortSignal;
  clock?: Clock;
  pollMs?: number;
  /** Where to start in each file (by path); default 0, the beginning. */
  from?: ReadonlyMap<string, number>;
  onOutput(target: TailTarget, stream: StreamName, text: string): void;
  onEnd(target: TailTarget, why: string): void;
}

/**
 * Follows every target until its attempt ends (the record says so, or its process is gone for good)
 * or `signal` aborts. Polls every `pollMs`: no busy loop, and no watcher to set up.
 */
export async function followAttempts(paths: StatePaths, targets: readonly TailTarget[], options: FollowOptions): Promise<void> {
  const clock = options.clock ?? systemClock;
  const pollMs = options.pollMs ?? TAIL_POLL_MS;
  const follows = targets.map(target => ({
    target,
    offsets: { stdout: options.from?.get(target.stdout) ?? 0, stderr: options.from?.get(target.stderr) ?? 0 },
    decoders: { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') },
    liveness: {} as { deadSince?: number },
    done: false,
  }));
  const aborted = (): boolean => options.signal?.aborted === true;
  while (!aborted() && follows.some(f => !f.done)) {
    for (const follow of follows) {
      if (follow.done || aborted()) continue;
      // The end is read before the output: output written before the record says "ended" is never lost.
      const ended = await endOf(paths, follow.target, clock.now(), follow.liveness);
      for (const stream of STREAMS) {
        for (;;) {
          const read = await readFrom(paths, follow.target[stream], follow.offsets[stream], follow.decoders[stream]);
          follow.offsets[stream] = read.offset;
          if (read.text !== '') options.onOutput(follow.target, stream, read.text);
          if (ended === undefined || read.bytes === 0) break; // a finished attempt is drained to its end
        }
        if (ended !== undefined) {
          const rest = follow.decoders[stream].end();
          if (rest !== '') options.onOutput(follow.target, stream, rest);
        }
      }
      if (ended !== undefined) {
        follow.done = true;
        options.onEnd(follow.target, ended);
      }
    }
    if (follows.some(f => !f.done)) await clock.sleep(pollMs, options.signal);
  }
}
