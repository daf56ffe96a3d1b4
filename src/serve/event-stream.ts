// `GET /api/v1/events`: Server-Sent Events from events.jsonl (specs/serve.md). A snapshot of the state
// first, then every line appended to events.jsonl as an event whose id is the byte offset just past it:
// a browser that reconnects sends it back as Last-Event-ID and gets exactly what came after, read from
// that offset (O(1), where a line count would read the file from the start). Heartbeats keep proxies
// and the browser from timing the stream out. Never more than one chunk of the file in memory.
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { SECURITY_HEADERS } from './guard.js';

export const HEARTBEAT_MS = 15_000;
/** How often the file is looked at besides fs.watch's word (a watch can miss an event or fail). */
export const EVENTS_POLL_MS = 1000;
const CHUNK_BYTES = 64 * 1024;

export interface EventStreamOptions {
  eventsFile: string;
  /** The snapshot sent first (the state), as JSON-ready data. */
  snapshot: () => Promise<unknown>;
}

/** Serves one SSE client until it goes away. */
export async function streamEvents(request: IncomingMessage, response: ServerResponse, options: EventStreamOptions): Promise<void> {
  // Listened for first: a client that goes while the snapshot is made must still end the stream.
  const closed = new Promise<void>(resolve => {
    request.once('close', resolve);
    response.once('close', resolve);
  });
  const resumeAt = Number(request.headers['last-event-id'] ?? Number.NaN);
  const resumed = Number.isSafeInteger(resumeAt) && resumeAt >= 0 ? resumeAt : undefined;
  response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  response.write(`retry: 1000\n\nevent: snapshot\ndata: ${JSON.stringify(await options.snapshot())}\n\n`);
  // A new client starts at the end of the file (the snapshot told it the state); a resumed one where it was.
  const offset = resumed ?? sizeOf(options.eventsFile);
  // `pending`: the bytes of a line not ended yet, which begins at file offset `lineStart`.
  let lineStart = offset;
  let pending = Buffer.alloc(0);
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
        const size = sizeOf(options.eventsFile);
        if (size < lineStart + pending.length) {
          // The file was cleared (orch clean-state): start over, and say so.
          lineStart = 0;
          pending = Buffer.alloc(0);
          response.write('event: reset\ndata: {}\n\n');
        }
        let read = lineStart + pending.length;
        while (read < size && !response.destroyed) {
          const chunk = readAt(options.eventsFile, read, Math.min(CHUNK_BYTES, size - read));
          if (chunk.length === 0) break;
          read += chunk.length;
          const data = Buffer.concat([pending, chunk]);
          let from = 0;
          // Each whole line is one event, its id the offset just past its newline.
          for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10, from)) {
            const line = data.subarray(from, newline).toString('utf8');
            if (line.trim() !== '') response.write(`id: ${lineStart + newline + 1}\nevent: log\ndata: ${line}\n\n`);
            from = newline + 1;
          }
          pending = data.subarray(from);
          lineStart += from;
        }
      } while (again && !response.destroyed);
    } finally {
      busy = false;
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(options.eventsFile), (_event, name) => {
      if (name === null || name === basename(options.eventsFile)) void pump();
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

// Synchronous, as the durable writer's metadata calls: each is a few microseconds in the kernel, where
// an async call is a thread-pool round trip that costs more than the call (bench/serve.ts: freshness).
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readAt(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const bytesRead = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    closeSync(fd);
  }
}
