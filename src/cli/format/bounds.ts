// Bounded, paged output for the read commands (PRODUCT.md §12): `--limit N`, `--offset N` and
// `--fields a,b,c`, parsed and applied the same way by every command, so an agent can page through
// any listing and ask only for the keys it needs.
import { OrchError } from '../../errors.js';
import type { GlobalOptions } from '../output.js';

/** Rows a listing shows when no --limit is given. */
export const DEFAULT_LIST_LIMIT = 50;
/** The largest --limit accepted: output stays bounded even when asked for "everything". */
export const MAX_LIMIT = 10_000;

/** The options every read command takes (as commander hands them over: strings). */
export interface BoundsOptions {
  limit?: string;
  offset?: string;
  fields?: string;
}

function parseCount(flag: string, text: string, min: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > MAX_LIMIT) {
    throw new OrchError('ORCH_USAGE', `${flag} ${JSON.stringify(text)} is not a whole number from ${min} to ${MAX_LIMIT}`, {
      details: { flag, value: text },
      hint: `for example ${flag} 20`,
    });
  }
  return value;
}

/** --limit as a number (1 to MAX_LIMIT), or `fallback` when not given. */
export function parseLimit(text: string | undefined, fallback: number = DEFAULT_LIST_LIMIT): number {
  return text === undefined ? fallback : parseCount('--limit', text, 1);
}

/** Refuses --offset for a command that shows no listing to page through (rather than ignore it). */
export function refuseOffset(text: string | undefined, command: string): void {
  if (text !== undefined) {
    throw new OrchError('ORCH_USAGE', `--offset pages a listing: ${command} has none`, { hint: 'it works with orch status, orch review and orch log' });
  }
}

/** --offset as a number (0 to MAX_LIMIT), 0 when not given. */
export function parseOffset(text: string | undefined): number {
  return text === undefined ? 0 : parseCount('--offset', text, 0);
}

/**
 * --fields as a list of known keys, in the order given, or undefined when not given (all fields).
 * An unknown key is a usage error naming the known ones, never silently dropped.
 */
export function parseFields<K extends string>(text: string | undefined, known: readonly K[], command: string): K[] | undefined {
  if (text === undefined) return undefined;
  const asked = text.split(',').map(field => field.trim()).filter(field => field !== '');
  if (asked.length === 0) {
    throw new OrchError('ORCH_USAGE', `--fields needs at least one field name for ${command}`, { hint: `known fields: ${known.join(', ')}` });
  }
  const unknown = asked.filter(field => !(known as readonly string[]).includes(field));
  if (unknown.length > 0) {
    throw new OrchError('ORCH_USAGE', `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map(f => JSON.stringify(f)).join(', ')} for ${command}`, {
      details: { unknown, known },
      hint: `known fields: ${known.join(', ')}`,
    });
  }
  return [...new Set(asked)] as K[];
}

/** `value` with only `fields` (all of it when fields is undefined). Keys keep the order asked for. */
export function pickFields<T extends object, K extends keyof T & string>(value: T, fields: readonly K[] | undefined): Partial<T> {
  if (fields === undefined) return value;
  const picked: Partial<T> = {};
  for (const field of fields) if (field in value) picked[field] = value[field];
  return picked;
}

/**
 * The full lengths of the lists a bounded JSON object holds, for the lists --fields kept: an agent
 * sees how many there are in all. Undefined when none of them was asked for.
 */
export function listTotals(totals: Record<string, number>, fields: readonly string[] | undefined): Record<string, number> | undefined {
  const kept = Object.entries(totals).filter(([key]) => fields === undefined || fields.includes(key));
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

export interface Page<T> {
  items: T[];
  /** How many there are in all. */
  total: number;
  offset: number;
  limit: number;
  /** True when items follow this page: ask again with --offset (offset + limit). */
  more: boolean;
}

/** One page of `items`: `limit` of them from `offset`. */
export function page<T>(items: readonly T[], limit: number, offset = 0): Page<T> {
  const shown = items.slice(offset, offset + limit);
  return { items: shown, total: items.length, offset, limit, more: offset + shown.length < items.length };
}

/** The paging keys of a JSON listing, beside its items. */
export function pageInfo(p: Page<unknown>): { total: number; offset: number; limit: number; more: boolean } {
  return { total: p.total, offset: p.offset, limit: p.limit, more: p.more };
}

/** The options of a read command: the global ones and the bounds. */
export type ReadOptions = GlobalOptions & BoundsOptions;
