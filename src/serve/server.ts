// `orch serve` (PRODUCT.md §15, specs/serve.md): node:http on 127.0.0.1 (a free port unless told one, or
// a unix socket),
// the token and URL in `<state>/serve.json` (0600), every request through the Guard, errors as JSON.
// node:http rather than a framework: a handful of routes, and every byte of the security checks in
// sight. Upgrades (websockets) are refused outright: nothing here speaks them, and a dashboard's upgrade
// that skipped the HTTP checks is how one peer was taken over.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { chmodSync, existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isOrchError } from '../errors.js';
import type { ServeFile } from '../generated/types.js';
import type { StatePaths } from '../store/paths.js';
import { writeFileDurable } from '../store/durable-write.js';
import { collectStatus } from '../project/status.js';
import { agentOutputChannel, openAttemptOutput, route } from './api.js';
import { followFile, type Channel } from './event-stream.js';
import { Guard, newSecret, SECURITY_HEADERS, SESSION_COOKIE } from './guard.js';
import { HttpError, sendError } from './http-util.js';

/** At most this many event streams at once (a tab holds one); past it, 429. */
export const MAX_STREAMS = 200;

export interface ServeOptions {
  /** 0 (default): a free port. */
  port?: number;
  /** Listen on this unix socket instead (mode 0600: only its owner can connect; Bearer token only). */
  socket?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  /** The one-time link a browser opens to get its session cookie; undefined once it has been used. */
  link(): string | undefined;
  /** A new one-time link (the last one used or not). */
  newLink(): string;
  close(): Promise<void>;
}

/** The board's static files (board/ in the package), by the path they are served at. */
const BOARD_ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/board.js': { file: 'board.js', type: 'text/javascript; charset=utf-8' },
  '/board.css': { file: 'board.css', type: 'text/css; charset=utf-8' },
  '/insights.js': { file: 'insights.js', type: 'text/javascript; charset=utf-8' },
  '/markdown.js': { file: 'markdown.js', type: 'text/javascript; charset=utf-8' },
  '/coalesce.js': { file: 'coalesce.js', type: 'text/javascript; charset=utf-8' },
};

let boardFolder: string | undefined;
/** board/ of the package: found upwards from this module (src/serve/ when run from source, dist/src/bundle/ when bundled). */
function boardDir(): string {
  if (boardFolder !== undefined) return boardFolder;
  for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 6; dir = dirname(dir), i++) {
    if (existsSync(join(dir, 'board', 'index.html'))) return (boardFolder = join(dir, 'board'));
  }
  throw new HttpError(500, 'no_board', 'the board\'s files are not in this installation of orch');
}

/**
 * The key that signs browser sessions, kept across restarts of the server in `<state>/serve.key`
 * (0600, made once): a restarted server still knows its browsers. Removing the file ends them all.
 */
async function sessionKey(paths: StatePaths): Promise<string> {
  const file = join(paths.machine, 'serve.key');
  const existing = await readFile(file, 'utf8').then(text => text.trim(), () => '');
  if (existing.length >= 32) return existing;
  const key = newSecret();
  await writeFileDurable(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/**
 * A socket file a dead server left is removed (nothing answers on it); one a live server holds is not:
 * the listen then fails with EADDRINUSE, which says so.
 */
async function clearStaleSocket(path: string): Promise<void> {
  // Only a socket: any other file at that path is someone's, and the listen's EADDRINUSE says so.
  if (lstatSync(path, { throwIfNoEntry: false })?.isSocket() !== true) return;
  const live = await new Promise<boolean>(resolve => {
    const probe = connect(path, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (!live) rmSync(path, { force: true });
}

export function serveFile(paths: StatePaths): string {
  return join(paths.machine, 'serve.json');
}

export async function startServer(paths: StatePaths, options: ServeOptions = {}): Promise<RunningServer> {
  const token = newSecret();
  let guard: Guard | undefined;
  let streams = 0;
  const sockets = new Set<Socket>();
  // Streams that open together (a hundred tabs, a reconnect storm) share one read of the state dir.
  let snapshotting: Promise<unknown> | undefined;
  const sharedSnapshot = (): Promise<unknown> => {
    snapshotting ??= collectStatus(paths, { limit: 0 })
      .then(s => ({ counts: s.counts, session: s.session, tasks_total: s.tasks_total }))
      .finally(() => (snapshotting = undefined));
    return snapshotting;
  };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (guard === undefined) throw new HttpError(503, 'starting', 'the server is starting');
    const url = new URL(request.url ?? '/', 'http://localhost');
    const output = /^\/api\/v1\/tasks\/([^/]+)\/attempts\/([^/]+)\/stream$/.exec(url.pathname);
    const streaming = url.pathname === '/api/v1/events' || output !== null;
    const sensitive = streaming || (request.method !== 'GET' && request.method !== 'HEAD');
    const code = url.pathname === '/' ? (url.searchParams.get('token') ?? undefined) : undefined;
    const verdict = guard.check(request, sensitive, code);
    if (!verdict.ok) throw new HttpError(verdict.status, verdict.code, verdict.message);
    if (verdict.by === 'link') {
      // The link is spent; the browser keeps a session cookie scripts cannot read, sent to this site only.
      const cookie = `${SESSION_COOKIE}=${guard.openSession()}; HttpOnly; SameSite=Strict; Path=/`;
      response.writeHead(302, { ...SECURITY_HEADERS, 'Set-Cookie': cookie, Location: '/' });
      response.end();
      return;
    }
    if (streaming) {
      if (request.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'GET only');
      if (streams >= MAX_STREAMS) throw new HttpError(429, 'too_many_streams', `${MAX_STREAMS} event streams are open already`);
      // An attempt's output: the file checked and opened once (no link followed), then read by its descriptor.
      const opened = output === null ? undefined : await openAttemptOutput(paths, output[1] ?? '', output[2] ?? '', url);
      if (opened !== undefined && opened.handle === undefined) throw new HttpError(404, 'no_output', 'the attempt has written no output yet');
      const handle = opened?.handle;
      // The board's open task: its agent's output rides the same stream as the events (one per tab).
      const follow = url.searchParams.get('task');
      const agent = output === null && follow !== null ? await agentOutputChannel(paths, follow, url.searchParams.get('attempt') ?? '') : undefined;
      streams += 1;
      try {
        if (opened !== undefined && handle !== undefined) {
          const source = { fd: handle.fd, path: opened.file };
          await followFile(request, response, { channels: [{ path: opened.file, open: async () => source, framing: 'chunks', event: 'output', startAt: 'start' }] });
        } else {
          const snapshot = async () => ({ event: 'snapshot', data: await sharedSnapshot() });
          const log: Channel = { path: paths.events, framing: 'lines', event: 'log', startAt: 'end' };
          await followFile(request, response, { channels: agent === undefined ? [log] : [log, agent.channel], first: snapshot });
        }
      } finally {
        streams -= 1;
        await handle?.close();
        await agent?.close();
      }
      return;
    }
    if (url.pathname.startsWith('/api/v1/') || url.pathname === '/api/v1') {
      if (await route(paths, request, response, url)) return;
      throw new HttpError(404, 'not_found', `no route ${url.pathname}`);
    }
    if (url.pathname === '/favicon.ico') {
      response.writeHead(204, SECURITY_HEADERS);
      response.end();
      return;
    }
    const asset = BOARD_ASSETS[url.pathname];
    if (asset !== undefined && (request.method === 'GET' || request.method === 'HEAD')) {
      const body = readFileSync(join(boardDir(), asset.file));
      response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Content-Length': body.length });
      response.end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    throw new HttpError(404, 'not_found', `nothing at ${url.pathname}`);
  };
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) sendError(response, error.status, error.code, error.message);
      else if (isOrchError(error) && error.code === 'ORCH_NOT_FOUND') sendError(response, 404, 'not_found', error.message);
      else if (isOrchError(error) && (error.code === 'ORCH_USAGE' || error.code === 'ORCH_ILLEGAL_TRANSITION')) sendError(response, 409, 'refused', error.message);
      else if (isOrchError(error) && error.code === 'ORCH_NOT_REGULAR_FILE') sendError(response, 403, 'refused_file', error.message);
      else sendError(response, 500, 'internal', error instanceof Error ? error.message : String(error));
      if (request.complete) return;
      // A body too large is cut once the answer is out (never read to its end); any other is drained.
      if (error instanceof HttpError && error.status === 413) response.once('finish', () => request.destroy());
      else request.resume();
    });
  });
  server.on('connection', socket => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_request, socket: Socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  if (options.socket !== undefined) await clearStaleSocket(options.socket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (options.socket !== undefined) server.listen(options.socket, () => resolve());
    else server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  if (options.socket !== undefined) chmodSync(options.socket, 0o600);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  // Over a unix socket a client names no real host (curl --unix-socket says `localhost`).
  const hosts = options.socket !== undefined ? ['localhost'] : [`127.0.0.1:${port}`, `localhost:${port}`];
  guard = new Guard(token, new Set(hosts), await sessionKey(paths));
  const url = options.socket !== undefined ? `http://localhost/` : `http://127.0.0.1:${port}/`;
  const file = serveFile(paths);
  const written: ServeFile = { version: 1, url, pid: process.pid, started_at: new Date().toISOString(), token, ...(options.socket !== undefined ? { socket: options.socket } : { port }) };
  await writeFileDurable(file, `${JSON.stringify(written, null, 2)}\n`, { mode: 0o600 });
  const current = guard;
  return {
    url,
    port,
    link: () => {
      const code = current.linkCode();
      return code === undefined ? undefined : `${url}?token=${code}`;
    },
    newLink: () => `${url}?token=${current.renewLink()}`,
    close: async () => {
      rmSync(file, { force: true });
      for (const socket of sockets) socket.destroy();
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}
