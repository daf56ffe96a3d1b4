// Reading the end of a growing file (the run log, events.jsonl, an attempt's output) without reading
// all of it: chunks from the end, doubling, until the caller has enough or a cap is reached.
import { constants as fsc, promises as fs } from 'node:fs';
import { errnoCode } from '../errors.js';

/** The first chunk read from the end; each next read doubles. */
export const FIRST_CHUNK_BYTES = 64 * 1024;
/** Never read more than this from the end of one file. */
export const MAX_TAIL_BYTES = 64 * 1024 * 1024;

export interface TailText {
  /** The end of the file, starting at a line boundary (or at the file's start). */
  text: string;
  /** The file's size when read: where following it continues. */
  size: number;
  /** True when `text` starts at the file's start (nothing before it). */
  whole: boolean;
}

export interface ReadBackOptions {
  /** True when `text` (whole lines from some point to the end) holds what the caller needs. */
  enough(text: string): boolean;
  maxBytes?: number;
}

/**
 * The end of `path` (undefined when it does not exist). A symlink is refused (O_NOFOLLOW). A cut in
 * the middle of the file drops the partial first line, so the text is whole lines and valid UTF-8.
 */
export async function readBack(path: string, options: ReadBackOptions): Promise<TailText | undefined> {
  let handle;
  try {
    handle = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    const size = stat.size;
    const cap = Math.min(size, options.maxBytes ?? MAX_TAIL_BYTES);
    for (let want = Math.min(FIRST_CHUNK_BYTES, cap); ; want = Math.min(want * 2, cap)) {
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await handle.read(buffer, 0, want, size - want);
      const bytes = buffer.subarray(0, bytesRead);
      const whole = want === size;
      // Cut at the first newline: the bytes before it may be half a line or half a character.
      const start = whole ? 0 : bytes.indexOf(0x0a) + 1;
      const text = start === 0 && !whole ? '' : bytes.subarray(start).toString('utf8');
      if (whole || want === cap || options.enough(text)) return { text, size, whole };
    }
  } finally {
    await handle.close();
  }
}

/** The last `count` lines of `path` (a final line without its newline counts). */
export async function readLastLines(path: string, count: number, maxBytes?: number): Promise<TailText | undefined> {
  const lines = (text: string): string[] => {
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    return all;
  };
  const read = await readBack(path, { enough: text => lines(text).length > count, ...(maxBytes === undefined ? {} : { maxBytes }) });
  if (read === undefined) return undefined;
  const all = lines(read.text);
  const kept = all.slice(Math.max(0, all.length - count));
  const text = kept.join('\n') + (kept.length > 0 && read.text.endsWith('\n') ? '\n' : '');
  return { text, size: read.size, whole: read.whole && kept.length === all.length };
}
