// Reading a state file without trusting it: regular files only (a symlink, FIFO, device or shared hard
// link is refused, and a FIFO never blocks us), a size cap, strict UTF-8.
import { constants as fsc, promises as fs } from 'node:fs';
import { OrchError, errnoCode } from '../errors.js';
import { describeKind } from './durable-write.js';

/** The largest state file orch reads (specs, records, config): larger ones are refused. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface ReadOptions {
  maxBytes?: number;
}

export interface FileContent {
  text: string;
  bytes: Buffer;
}

/** Reads `path` as strict UTF-8 text (a leading BOM is dropped). Throws typed OrchErrors. */
export async function readTextFile(path: string, options: ReadOptions = {}): Promise<FileContent> {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const before = await fs.lstat(path).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') {
      throw new OrchError('ORCH_NOT_FOUND', `${path} does not exist`, { cause: error, details: { file: path } });
    }
    throw error;
  });
  assertRegular(path, before);
  // O_NONBLOCK: if a FIFO was swapped in after the lstat, open returns at once instead of waiting for
  // a writer; O_NOFOLLOW: a symlink swapped in fails with ELOOP.
  let handle;
  try {
    handle = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') {
      throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it is a symlink`, { details: { file: path } });
    }
    if (errnoCode(error) === 'ENOENT') {
      throw new OrchError('ORCH_NOT_FOUND', `${path} does not exist`, { cause: error, details: { file: path } });
    }
    throw error;
  }
  try {
    const stat = await handle.stat();
    assertRegular(path, stat);
    if (stat.ino !== before.ino || stat.dev !== before.dev) {
      throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: it was replaced while being opened`, { details: { file: path } });
    }
    if (stat.size > maxBytes) {
      throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} is ${stat.size} bytes, more than the ${maxBytes} orch reads`, {
        details: { file: path, size: stat.size, max: maxBytes },
        hint: 'state files are small JSON documents: check that this is the file you meant',
      });
    }
    // Read to a cap of maxBytes + 1 rather than trusting stat.size: the file may grow while we read.
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) {
        throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} grew past the ${maxBytes} bytes orch reads`, { details: { file: path, max: maxBytes } });
      }
      if (length === buffer.length) break;
    }
    const bytes = buffer.subarray(0, length);
    return { text: decodeUtf8(path, bytes), bytes };
  } finally {
    await handle.close();
  }
}

function assertRegular(path: string, stat: import('node:fs').Stats): void {
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
    const offset = firstInvalidUtf8(bytes);
    throw new OrchError('ORCH_INVALID_UTF8', `${path}: invalid UTF-8 at byte ${offset}`, {
      cause: error,
      details: { file: path, byte: offset },
      hint: 'save the file as UTF-8 text',
    });
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  // Binary search for the shortest prefix that fails to decode: the offending byte is at its end.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid + 1), { stream: true });
      lo = mid + 1;
    } catch {
      hi = mid;
    }
  }
  return lo;
}
