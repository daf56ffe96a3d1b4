// Server-Sent Events that follow a file (specs/serve.md): `GET /api/v1/events` follows events.jsonl (a
// snapshot of the state first, then each line as an event), and an attempt's output stream follows its
// stdout.log or stderr.log (each chunk as an event). Every event's id is the byte offset just past what
// it carries: a browser that reconnects sends it back as Last-Event-ID and gets exactly what came after,
// read from that offset (O(1), where a count of lines would read the file from its start). Heartbeats
// keep proxies and the browser from timing the stream out; never more than one chunk in memory.
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { SECURITY_HEADERS } from './guard.js';

export const HEARTBEAT_MS = 15_000;
/** How often the file is looked at besides fs.watch's word (a watch can miss an event or fail). */
export const EVENTS_POLL_MS = 1000;
/** Read (and sent) at a time: 64 KiB peaked at +20 MiB of RSS with 3 clients on a 50 MB log, 16 KiB at +10 (bench serve-memory). */
const CHUNK_BYTES = 16 * 1024;

/** Where the bytes come from: by path (events.jsonl, which clean-state may replace), or an open descriptor (checked once). */
export type FileSource = { path: string } | { fd: number; path: string };

export interface FollowOptions {
  source: FileSource;
  /** lines: one event per line, its data the line; chunks: one event per read, its data the text as a JSON string. */
  framing: 'lines' | 'chunks';
  /** The name of each event of the file. */
  event: string;
  /** A first event (the state's snapshot) before anything of the file. */
  first?: () => Promise<{ event: string; data: unknown }>;
  /** Where a client that does not resume starts: the end of the file (events) or its start (output). */
  startAt: 'end' | 'start';
}

/** Serves one SSE client until it goes away. */
export async function followFile(request: IncomingMessage, response: ServerResponse, options: FollowOptions): Promise<void> {
  // Listened for first: a client that goes while the first event is made must still end the stream.
  const closed = new Promise<void>(resolve => {
    request.once('close', resolve);
    response.once('close', resolve);
  });
  const resumeAt = Number(request.headers['last-event-id'] ?? Number.NaN);
  const resumed = Number.isSafeInteger(resumeAt) && resumeAt >= 0 ? resumeAt : undefined;
  response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  response.write('retry: 1000\n\n');
  if (options.first !== undefined) {
    const first = await options.first();
    response.write(`event: ${first.event}\ndata: ${JSON.stringify(first.data)}\n\n`);
  }
  // `pending`: bytes not sent yet (a line not ended, a character cut by a chunk), from file offset `sentTo`.
  let sentTo = resumed ?? (options.startAt === 'end' ? sizeOf(options.source) : 0);
  let pending: Buffer = Buffer.alloc(0);
  let busy = false;
  let again = false;
  // False when the socket's buffer is full: the next read waits for it to drain (a slow client of a
  // 50 MB log must not make the server hold the log).
  const send = (data: Buffer): boolean => {
    let flowing = true;
    if (options.framing === 'lines') {
      let from = 0;
      for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10, from)) {
        const line = data.subarray(from, newline).toString('utf8');
        if (line.trim() !== '') flowing = response.write(`id: ${sentTo + newline + 1}\nevent: ${options.event}\ndata: ${line}\n\n`) && flowing;
        from = newline + 1;
      }
      pending = data.subarray(from);
      sentTo += from;
      return flowing;
    }
    const whole = completeUtf8(data);
    if (whole > 0) flowing = response.write(`id: ${sentTo + whole}\nevent: ${options.event}\ndata: ${JSON.stringify(data.subarray(0, whole).toString('utf8'))}\n\n`);
    pending = data.subarray(whole);
    sentTo += whole;
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
  const pump = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        const size = sizeOf(options.source);
        if (size < sentTo + pending.length) {
          // The file was cleared (orch clean-state): start over, and say so.
          sentTo = 0;
          pending = Buffer.alloc(0);
          response.write('event: reset\ndata: {}\n\n');
        }
        let read = sentTo + pending.length;
        while (read < size && !response.destroyed) {
          const chunk = readAt(options.source, read, Math.min(CHUNK_BYTES, size - read));
          if (chunk.length === 0) break;
          read += chunk.length;
          if (!send(Buffer.concat([pending, chunk]))) await drained();
        }
      } while (again && !response.destroyed);
    } finally {
      busy = false;
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(options.source.path), (_event, name) => {
      if (name === null || name === basename(options.source.path)) void pump();
    });
    watcher.on('error', () => undefined); // the poll below carries on
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(() => void pump(), EVENTS_POLL_MS);
  const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), HEARTBEAT_MS);
  await pump();
  await closed;
  clearInterval(poll);
  clearInterval(heartbeat);
  watcher?.close();
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
