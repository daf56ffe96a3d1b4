// Server-Sent Events that follow files (specs/serve.md): `GET /api/v1/events` follows events.jsonl (a
// snapshot of the state first, then each line as an event) and, for the board's open task, its agent's
// output beside it (one stream per tab); an attempt's output stream follows its stdout.log or stderr.log
// (each chunk as an event). Every event's id holds the byte offset just past what each file sent: a
// browser that reconnects sends it back as Last-Event-ID and gets exactly what came after, read from
// those offsets (O(1), where a count of lines would read the file from its start). Heartbeats keep
// proxies and the browser from timing the stream out; never more than one chunk in memory per file.
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { SECURITY_HEADERS } from './guard.js';

export const HEARTBEAT_MS = 15_000;
/** How often the file is looked at besides fs.watch's word (a watch can miss an event or fail). */
export const EVENTS_POLL_MS = 1000;
/** How often an agent's output followed beside the events is looked at: a person watches it. */
export const OUTPUT_POLL_MS = 250;
/** Read (and sent) at a time: 64 KiB peaked at +20 MiB of RSS with 3 clients on a 50 MB log, 16 KiB at +10 (bench serve-memory). */
const CHUNK_BYTES = 16 * 1024;

/** Where the bytes come from: by path (events.jsonl, which clean-state may replace), or an open descriptor (checked once). */
export type FileSource = { path: string } | { fd: number; path: string };

/** A longer line (an agent's tool result of megabytes, no newline) is not held: it is said to be skipped. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** One file a stream follows. */
export interface Channel {
  /** The file's path: its folder is watched, and the file read by this path unless `open` gives a descriptor. */
  path: string;
  /** Opens the file (checked once, then read by its descriptor); undefined while it is not there: looked for at each pass. */
  open?: () => Promise<FileSource | undefined>;
  /** lines: one event per line; chunks: one event per read (never ending inside a UTF-8 character). */
  framing: 'lines' | 'chunks';
  /** The name of each event of the file. */
  event: string;
  /** The data of one event from a line or a chunk of text; undefined: nothing to send for it. Default: the line as it is, a chunk as a JSON string. */
  data?: (text: string) => string | undefined;
  /** The data of the event that stands for a line over MAX_LINE_BYTES (lines framing); default: none sent. */
  overlong?: (bytes: number) => string;
  /** Where a client that does not resume starts: the end of the file (events) or its start (output). */
  startAt: 'end' | 'start';
}

export interface FollowOptions {
  /** The files followed, each event's id naming every channel's offset ("L" for one, "L.O" for two). */
  channels: readonly Channel[];
  /** A first event (the state's snapshot) before anything of the files. */
  first?: () => Promise<{ event: string; data: unknown }>;
}

/** One channel's progress: `pending` bytes not sent yet (a line not ended, a character cut by a chunk), from file offset `sentTo`. */
interface Cursor {
  channel: Channel;
  source: FileSource | undefined;
  sentTo: number;
  pending: Buffer;
  /** Bytes of an overlong line are being dropped until its newline. */
  skipping: boolean;
}

/**
 * The offsets a Last-Event-ID names, one per channel: undefined when it names none we can use (absent,
 * malformed, or made for another set of channels), and the stream starts afresh.
 */
export function resumeOffsets(header: string | string[] | undefined, channels: number): number[] | undefined {
  if (typeof header !== 'string') return undefined;
  const parts = header.split('.');
  if (parts.length !== channels || !parts.every(part => /^\d{1,15}$/.test(part))) return undefined;
  return parts.map(Number);
}

/** Serves one SSE client until it goes away. */
export async function followFile(request: IncomingMessage, response: ServerResponse, options: FollowOptions): Promise<void> {
  // Listened for first: a client that goes while the first event is made must still end the stream.
  const closed = new Promise<void>(resolve => {
    request.once('close', resolve);
    response.once('close', resolve);
  });
  const resumed = resumeOffsets(request.headers['last-event-id'], options.channels.length);
  response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  response.write('retry: 1000\n\n');
  if (options.first !== undefined) {
    const first = await options.first();
    response.write(`event: ${first.event}\ndata: ${JSON.stringify(first.data)}\n\n`);
  }
  const cursors: Cursor[] = [];
  for (const [index, channel] of options.channels.entries()) {
    const source = channel.open === undefined ? { path: channel.path } : undefined;
    const start = resumed?.[index] ?? (channel.startAt === 'end' && source !== undefined ? sizeOf(source) : 0);
    cursors.push({ channel, source, sentTo: start, pending: Buffer.alloc(0), skipping: false });
  }
  // Every event's id holds each channel's offset, so a reconnect resumes all of them exactly.
  const idWith = (cursor: Cursor, at: number): string => cursors.map(other => (other === cursor ? at : other.sentTo)).join('.');
  const emit = (cursor: Cursor, at: number, data: string | undefined): boolean =>
    data === undefined ? true : response.write(`id: ${idWith(cursor, at)}\nevent: ${cursor.channel.event}\ndata: ${data}\n\n`);
  // False when the socket's buffer is full: the next read waits for it to drain (a slow client of a
  // 50 MB log must not make the server hold the log).
  const send = (cursor: Cursor, data: Buffer): boolean => {
    const { channel } = cursor;
    let flowing = true;
    if (channel.framing === 'lines') {
      let from = 0;
      for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10, from)) {
        if (cursor.skipping) cursor.skipping = false; // the rest of an overlong line: dropped with its end
        else {
          const line = data.subarray(from, newline).toString('utf8');
          if (line.trim() !== '') flowing = emit(cursor, cursor.sentTo + newline + 1, channel.data === undefined ? line : channel.data(line)) && flowing;
        }
        from = newline + 1;
      }
      cursor.sentTo += from;
      cursor.pending = data.subarray(from);
      if (cursor.pending.length > MAX_LINE_BYTES) {
        const dropped = cursor.pending.length;
        cursor.sentTo += dropped;
        cursor.pending = Buffer.alloc(0);
        if (!cursor.skipping) flowing = emit(cursor, cursor.sentTo, channel.overlong?.(dropped)) && flowing;
        cursor.skipping = true;
      }
      return flowing;
    }
    const whole = completeUtf8(data);
    if (whole > 0) {
      const text = data.subarray(0, whole).toString('utf8');
      flowing = emit(cursor, cursor.sentTo + whole, channel.data === undefined ? JSON.stringify(text) : channel.data(text));
    }
    cursor.pending = data.subarray(whole);
    cursor.sentTo += whole;
    return flowing;
  };
  const drained = (): Promise<void> =>
    new Promise(resolve => {
      const done = (): void => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.once('drain', done);
      response.once('close', done);
    });
  const pumpOne = async (cursor: Cursor): Promise<void> => {
    if (cursor.source === undefined && cursor.channel.open !== undefined) cursor.source = await cursor.channel.open();
    const source = cursor.source;
    if (source === undefined) return;
    const size = sizeOf(source);
    if (size < cursor.sentTo + cursor.pending.length) {
      // The file was cleared (orch clean-state): start over, and say so.
      cursor.sentTo = 0;
      cursor.pending = Buffer.alloc(0);
      cursor.skipping = false;
      response.write('event: reset\ndata: {}\n\n');
    }
    let read = cursor.sentTo + cursor.pending.length;
    while (read < size && !response.destroyed) {
      const chunk = readAt(source, read, Math.min(CHUNK_BYTES, size - read));
      if (chunk.length === 0) break;
      read += chunk.length;
      if (!send(cursor, Buffer.concat([cursor.pending, chunk]))) await drained();
    }
  };
  let busy = false;
  let again = false;
  const pump = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        for (const cursor of cursors) if (!response.destroyed) await pumpOne(cursor);
      } while (again && !response.destroyed);
    } finally {
      busy = false;
    }
  };
  // One watch per folder: a file's folder is known from its path before the file exists.
  const watchers: FSWatcher[] = [];
  const folders = new Map<string, Set<string>>();
  for (const { path } of options.channels) folders.set(dirname(path), (folders.get(dirname(path)) ?? new Set()).add(basename(path)));
  for (const [folder, names] of folders) {
    try {
      const watcher = watch(folder, (_event, name) => {
        if (name === null || names.has(name)) void pump();
      });
      watcher.on('error', () => undefined); // the poll below carries on
      watchers.push(watcher);
    } catch {
      // the poll below carries on
    }
  }
  const poll = setInterval(() => void pump(), pollEvery(cursors));
  const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), HEARTBEAT_MS);
  await pump();
  await closed;
  clearInterval(poll);
  clearInterval(heartbeat);
  for (const watcher of watchers) watcher.close();
}

/** An attempt's output may start before its folder can be watched: looked at more often. */
function pollEvery(cursors: readonly Cursor[]): number {
  return cursors.some(cursor => cursor.channel.open !== undefined) ? OUTPUT_POLL_MS : EVENTS_POLL_MS;
}

/** How many leading bytes of `data` are whole UTF-8 characters (a chunk may end inside one). */
function completeUtf8(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const byte = data[data.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? data.length - back : data.length;
  }
  return data.length;
}

// Synchronous, as the durable writer's metadata calls: each is a few microseconds in the kernel, where
// an async call is a thread-pool round trip that costs more than the call (bench/serve.ts: freshness).
function sizeOf(source: FileSource): number {
  try {
    return 'fd' in source ? fstatSync(source.fd).size : statSync(source.path).size;
  } catch {
    return 0;
  }
}

function readAt(source: FileSource, position: number, length: number): Buffer {
  const fd = 'fd' in source ? source.fd : openSync(source.path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const bytesRead = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    if (!('fd' in source)) closeSync(fd);
  }
}
