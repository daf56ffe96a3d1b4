// Reading the end of a growing file (the run log, events.jsonl, an attempt's output) without reading
// all of it: chunks from the end, doubling, until the caller has enough or a cap is reached.
import { dirname } from 'node:path';
import { openInside } from '../store/open-inside.js';

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
  /**
   * The folder `path` lies in, at any depth, reached through no symlink (the state dir): a link on the
   * way is refused. Without it, only `path` itself must not be a link.
   */
  within?: string;
}

/**
 * The end of `path` (undefined when it, or a folder on its way, does not exist). A symlink, FIFO or
 * device is refused with ORCH_NOT_REGULAR_FILE, never followed nor opened (src/store/open-inside.ts). A
 * cut in the middle of the file drops the partial first line, so the text is whole lines and valid UTF-8.
 */
export async function readBack(path: string, options: ReadBackOptions): Promise<TailText | undefined> {
  const handle = await openInside(options.within ?? dirname(path), path);
  if (handle === undefined) return undefined;
  try {
    const { size } = await handle.stat();
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
export async function readLastLines(path: string, count: number, options: Omit<ReadBackOptions, 'enough'> = {}): Promise<TailText | undefined> {
  const lines = (text: string): string[] => {
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    return all;
  };
  const read = await readBack(path, { ...options, enough: text => lines(text).length > count });
  if (read === undefined) return undefined;
  const all = lines(read.text);
  const kept = all.slice(Math.max(0, all.length - count));
  const text = kept.join('\n') + (kept.length > 0 && read.text.endsWith('\n') ? '\n' : '');
  return { text, size: read.size, whole: read.whole && kept.length === all.length };
}
