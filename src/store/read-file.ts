// Reading a state file without trusting it: regular files only (a symlink, FIFO, device or shared hard
// link is refused, and a FIFO never blocks us), a size cap, strict UTF-8.
//
// Every check that decides is made on the opened fd, never on the path: a durable write renames a new
// file over the path at any moment (every record write, every heartbeat), so a path looked at twice
// may be two files. Whatever inode we opened is one whole version, old or new, and that is what we read.
//
// The work is synchronous: open, fstat, read and close are one call into C++ each, where the async
// API would make one libuv thread-pool round trip per call. A state file is a few KB on a local disk,
// read in microseconds; `orch status` reads thousands of them.
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { OrchError, errnoCode } from '../errors.js';
import { describeKind } from './durable-write.js';
import { faultPoint } from '../testing/faults.js';

/** The largest state file orch reads (specs, records, config): larger ones are refused. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface ReadOptions {
  maxBytes?: number;
}

export interface FileContent {
  text: string;
  bytes: Buffer;
  /** The stat of the file read (fstat of the descriptor read from). */
  stats: Stats;
}

// O_NOFOLLOW: a symlink fails with ELOOP. O_NONBLOCK: a FIFO opens at once instead of waiting for a
// writer (and is then refused by fstat). O_NOCTTY: a terminal device never becomes ours.
const OPEN_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY;

/** Reads `path` as strict UTF-8 text (a leading BOM is dropped). Rejects with typed OrchErrors. */
export async function readTextFile(path: string, options: ReadOptions = {}): Promise<FileContent> {
  return readTextFileSync(path, options);
}

/** readTextFile, synchronously: throws the same OrchErrors. */
export function readTextFileSync(path: string, options: ReadOptions = {}): FileContent {
  const { bytes, stats } = readBytesSync(path, options);
  return { text: decodeUtf8(path, bytes), bytes, stats };
}

/**
 * The bytes of `path`, with the same refusals as readTextFileSync but no decoding: for keeping a
 * broken file aside exactly as it was (a record a hand edit made unreadable).
 */
export function readBytesSync(path: string, options: ReadOptions = {}): { bytes: Buffer; stats: Stats } {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const { fd, stat } = openChecked(path, maxBytes);
  try {
    return { bytes: readToEnd(path, fd, stat.size, maxBytes), stats: stat };
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens `path` for reading, with every refusal of this module: not a regular file (looked at before the
 * open and on the descriptor), or larger than `maxBytes`. The caller closes the descriptor.
 */
function openChecked(path: string, maxBytes: number): { fd: number; stat: Stats } {
  // Only an early refusal, so that a device or FIFO sitting at the path is never opened at all (opening
  // a device can act on it). It never fails a regular file: a rename swaps one regular file for another.
  assertRegular(path, statPath(path));
  faultPoint('read.open', path);
  const fd = openFile(path);
  try {
    const stat = fstatSync(fd);
    assertRegular(path, stat);
    if (stat.size > maxBytes) {
      throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} is ${stat.size} bytes, more than the ${maxBytes} orch reads`, {
        details: { file: path, size: stat.size, max: maxBytes },
        hint: 'state files are small JSON documents: check that this is the file you meant',
      });
    }
    return { fd, stat };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function notFound(path: string, error: unknown): OrchError {
  return new OrchError('ORCH_NOT_FOUND', `${path} does not exist`, { cause: error, details: { file: path } });
}

function statPath(path: string): Stats {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') throw notFound(path, error);
    throw error;
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, OPEN_FLAGS);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ELOOP') {
      throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it is a symlink`, { details: { file: path } });
    }
    // Replaced by a socket (or a device with no driver) since the lstat: open() says ENXIO.
    if (code === 'ENXIO') {
      throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it is a socket or a device, not a regular file`, {
        details: { file: path },
        hint: 'replace it with a regular JSON file',
      });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(path, error);
    throw error;
  }
}

/** How much of a file readLinesSync holds at a time (besides a line longer than that). */
const LINES_CHUNK_BYTES = 1024 * 1024;

/**
 * The lines of `path` (split at "\n", each decoded as UTF-8), read a chunk at a time: a large file
 * orch writes a line per entry (the record index, 40 MB at 100,000 tasks) is never held whole, which
 * read at once added its size to a start's peak memory. The same refusals as readBytesSync (the cap
 * checked before the first read, and again as the file is read: it may grow). The file is closed when
 * the lines end or the caller stops early.
 */
export function* readLinesSync(path: string, options: ReadOptions = {}): Generator<string> {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const { fd } = openChecked(path, maxBytes);
  try {
    const chunk = Buffer.allocUnsafe(LINES_CHUNK_BYTES);
    let rest = Buffer.alloc(0);
    let total = 0;
    for (;;) {
      const bytesRead = readSync(fd, chunk, 0, chunk.length, total);
      total += bytesRead;
      if (total > maxBytes) {
        throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} is more than the ${maxBytes} bytes orch reads`, { details: { file: path, max: maxBytes } });
      }
      if (bytesRead === 0) {
        if (rest.length > 0) yield rest.toString('utf8');
        return;
      }
      // "\n" is never part of a multibyte UTF-8 sequence: a line cut between two chunks is joined as bytes.
      const bytes = rest.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([rest, chunk.subarray(0, bytesRead)]);
      let at = 0;
      for (let end = bytes.indexOf(0x0a, at); end !== -1; end = bytes.indexOf(0x0a, at)) {
        yield bytes.toString('utf8', at, end);
        at = end + 1;
      }
      rest = Buffer.from(bytes.subarray(at));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads to the end, not to `size`: a file that grows while we read is read whole (up to the cap), never
 * returned as a torn prefix. (Our own writer never changes a file in place; a person's editor might.)
 */
function readToEnd(path: string, fd: number, size: number, maxBytes: number): Buffer {
  let buffer = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > maxBytes) {
        throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} grew past the ${maxBytes} bytes orch reads`, { details: { file: path, max: maxBytes } });
      }
      const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
      buffer.copy(bigger);
      buffer = bigger;
    }
    const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
    if (bytesRead === 0) return buffer.subarray(0, length);
    length += bytesRead;
  }
}

function assertRegular(path: string, stat: Stats): void {
  if (!stat.isFile()) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it is ${describeKind(stat)}, not a regular file`, {
      details: { file: path },
      hint: 'replace it with a regular JSON file',
    });
  }
  if (stat.nlink > 1) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it is a hard link shared with another path`, {
      details: { file: path },
      hint: 'copy the file instead of linking it',
    });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeUtf8(path: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes); // ignoreBOM: false drops a leading BOM
  } catch (error) {
    const offset = invalidUtf8Offset(bytes) ?? 0;
    throw new OrchError('ORCH_INVALID_UTF8', `${path}: invalid UTF-8 at byte ${offset}`, {
      cause: error,
      details: { file: path, byte: offset },
      hint: 'save the file as UTF-8 text',
    });
  }
}

/**
 * Offset of the first byte of the first ill-formed sequence, by the WHATWG rules TextDecoder uses
 * (no overlongs, no surrogates, nothing above U+10FFFF), or undefined if `bytes` is valid UTF-8.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] ?? 0;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    // Continuation count, and the allowed range of the first continuation byte.
    let count: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) count = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      count = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      count = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= count; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
    }
    i += count + 1;
  }
  return undefined;
}
