// Small readers the adapters share for their clients' output: JSON event lines whose every field is
// checked (no shape of input can throw), HTTP statuses as error kinds, lines clipped for people.
import { isAbsolute, relative } from 'node:path';
import type { AgentErrorKind } from './types.js';

/** How much of the client's error text goes into AgentError.message. */
export const ERROR_MAX_CHARS = 400;
/** How much of a command, tool result or message `render` shows: one line, this many characters. */
export const RENDER_MAX_CHARS = 160;

export type Json = Record<string, unknown>;

export function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonField(object: Json, key: string): Json | undefined {
  const value = object[key];
  return isJson(value) ? value : undefined;
}

export function stringField(object: Json, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

export function numberField(object: Json, key: string): number | undefined {
  const value = object[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** One stdout line as an event object (with a string `type`); tolerates noise before the JSON. */
export function readEvent(line: string): Json | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice(start));
    return isJson(value) && typeof value['type'] === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `file` lies under `folder` (a result file outside cwd needs its folder added). */
export function isInside(file: string, folder: string): boolean {
  const path = relative(folder, file);
  return path !== '' && !path.startsWith('..') && !isAbsolute(path);
}

/** What an HTTP status says of an error: refused (auth), throttled, broken (retry) or a bad request. */
export function kindOfStatus(status: number): AgentErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limit';
  if (status >= 500 || status === 408) return 'server';
  return 'request';
}

/** The first line of an error text, clipped to ERROR_MAX_CHARS. */
export function oneLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > ERROR_MAX_CHARS ? `${line.slice(0, ERROR_MAX_CHARS - 1)}…` : line;
}

/** The first line of a text for a live view, clipped to RENDER_MAX_CHARS, with … when more followed. */
export function clip(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  const more = text.trim().includes('\n') ? ' …' : '';
  return line.length > RENDER_MAX_CHARS ? `${line.slice(0, RENDER_MAX_CHARS - 1)}…` : `${line}${more}`;
}
