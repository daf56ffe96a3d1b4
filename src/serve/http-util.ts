// Small pieces every route of `orch serve` uses: JSON answers, errors as `{"error": {"code",
// "message"}}`, and request bodies read with a bound (a 100 MB body is refused, never buffered).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './guard.js';

/** The largest request body taken (a task spec, a decision note). */
export const MAX_BODY_BYTES = 256 * 1024;

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

export function sendError(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, status, { error: { code, message } }, headers);
}

/** The request's JSON body; 413 past MAX_BODY_BYTES (the rest is not read), 400 when it is not JSON. */
export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `a request body may hold ${MAX_BODY_BYTES} bytes at most`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `a request body may hold ${MAX_BODY_BYTES} bytes at most`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, 'bad_json', `the body is not JSON: ${(error as Error).message}`);
  }
}

/** A non-negative integer query parameter, else `fallback`; 400 when it is there and not one. */
export function intParam(url: URL, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'bad_parameter', `${name} must be a whole number, 0 or more`);
  return Math.min(Number(raw), max);
}
