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
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') {
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
    // Read to the end, not to stat.size: a file that grows while we read is read whole (up to the cap),
    // never returned as a torn prefix.
    let buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) {
          throw new OrchError('ORCH_FILE_TOO_LARGE', `${path} grew past the ${maxBytes} bytes orch reads`, { details: { file: path, max: maxBytes } });
        }
        const bigger = Buffer.alloc(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(bigger);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
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
