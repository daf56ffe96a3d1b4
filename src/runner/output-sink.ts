// Where a command's output goes: a file per stream, capped, and a small in-memory tail of both streams
// for classifying the failure. Output is never held whole in memory: past the cap it is read and
// dropped, so the child never blocks on a full pipe.
import { closeSync, createWriteStream, fstatSync, mkdirSync, openSync, readSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { OrchError, errnoCode } from '../errors.js';

/** How much of the combined output (latest bytes) is kept in memory for classification. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

export interface CappedFile {
  /**
   * Writes what fits under the cap. Returns false when the file wants the source paused; `resume` is
   * then called once (on drain, or at once on a write error, since no drain would come).
   */
  write(chunk: Buffer, resume: () => void): boolean;
  /** True once bytes were dropped (the cap was reached, or the file could not be written). */
  readonly truncated: boolean;
  /** The write error that stopped the file, if any (ENOSPC…). */
  readonly error: string | undefined;
  /** Flushes and closes the file. Never throws: a failure is kept in `error`. */
  close(): Promise<void>;
}

/**
 * Creates (truncates) `path` and returns a capped writer. Throws ORCH_WRITE_FAILED if it cannot be opened.
 * The mkdir and open are synchronous: microseconds each, where the async calls would queue in libuv's
 * thread pool behind the fsyncs of record writes, on the path from a dropped spec to its command.
 */
export async function openCappedFile(path: string, capBytes: number): Promise<CappedFile> {
  let fd: number;
  try {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(path, 'w', 0o644);
  } catch (error) {
    throw new OrchError('ORCH_WRITE_FAILED', `cannot create the output file ${path}: ${(error as Error).message}`, {
      cause: error,
      details: { file: path, errno: errnoCode(error) },
    });
  }
  // The stream is made at the first byte: most phases of a quiet command (a check, a script that only
  // writes its result file) print nothing on stderr, and a WriteStream's setup and its asynchronous
  // close were 2 % of the main thread per attempt in the throughput profile (issue 16).
  let stream: WriteStream | undefined;
  let written = 0;
  let truncated = false;
  let failure: string | undefined;
  let pendingResume: (() => void) | undefined;
  const wakeSource = (): void => {
    const resume = pendingResume;
    pendingResume = undefined;
    resume?.();
  };
  const streamOf = (): WriteStream => {
    if (stream !== undefined) return stream;
    stream = createWriteStream('', { fd });
    stream.on('drain', wakeSource);
    stream.on('error', error => {
      failure ??= error.message;
      truncated = true;
      wakeSource();
    });
    return stream;
  };

  return {
    write(chunk, resume) {
      if (failure !== undefined || written >= capBytes || fd < 0) {
        if (chunk.length > 0) truncated = true;
        return true;
      }
      const room = capBytes - written;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) truncated = true;
      if (part.length === 0) return true;
      written += part.length;
      if (streamOf().write(part)) return true;
      pendingResume = resume;
      return false;
    },
    get truncated() {
      return truncated;
    },
    get error() {
      return failure;
    },
    async close() {
      const open = stream;
      if (open === undefined) {
        // Nothing was written: the descriptor is closed here, once (a second close is a no-op).
        if (fd < 0) return;
        try {
          closeSync(fd);
        } catch (error) {
          failure ??= (error as Error).message;
        }
        fd = -1;
        return;
      }
      await new Promise<void>(resolve => {
        if (open.destroyed) return resolve();
        open.once('close', () => resolve());
        open.end();
      });
    },
  };
}

export interface OutputTail {
  push(chunk: Buffer): void;
  /** The kept bytes as text (a character cut at the start shows as U+FFFD). */
  text(): string;
}

/** Keeps the last `maxBytes` bytes pushed, in arrival order. */
export function createOutputTail(maxBytes: number = OUTPUT_TAIL_BYTES): OutputTail {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      // A copy, so a large chunk's memory is not kept alive by a small slice of it.
      const kept = chunk.length > maxBytes ? Buffer.from(chunk.subarray(chunk.length - maxBytes)) : Buffer.from(chunk);
      chunks.push(kept);
      size += kept.length;
      while (chunks.length > 1 && size - (chunks[0]?.length ?? 0) >= maxBytes) size -= chunks.shift()?.length ?? 0;
    },
    text() {
      const all = Buffer.concat(chunks);
      return all.subarray(Math.max(0, all.length - maxBytes)).toString('utf8');
    },
  };
}

/**
 * The last `maxBytes` of an output file (a finished attempt's transcript for the adapter, a running one's
 * last action for the live lines). `cut`: it starts mid-file, so its first line is a fragment. A file not
 * there yet reads as empty.
 */
export function readFileTail(path: string, maxBytes: number): { text: string; cut: boolean } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, size - length);
    return { text: buffer.subarray(0, read).toString('utf8'), cut: size > maxBytes };
  } catch {
    return { text: '', cut: false };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
