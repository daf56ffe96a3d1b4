// Finding when a rate limit lifts, from what the command printed. The latest mention wins (lines are
// read from the end). Forms understood:
//   "reset at 2025-12-10T11:00:00Z" (ISO; no zone means UTC)     "resets in 37 minutes", "try again in 6m0s"
//   "retry after 120 seconds"                                     "Retry-After: 30" (seconds, or an HTTP date)
//   a unix time after "reset" ("x-ratelimit-reset: 1765364400", "usage limit reached|1765364400"; 13 digits = ms)

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const UNIT = String.raw`(?:milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)`;
// A unit ends where letters end, so "6m0s" reads as 6 minutes and 0 seconds.
const DURATION = String.raw`((?:\d+(?:\.\d+)?\s*${UNIT}(?![a-z])\s*(?:and\s+|,\s*)?)+)`;

const ISO_AFTER_RESET = new RegExp(
  String.raw`(?:reset|resets|retry|try again)\w*\s*(?:at|on|after)?\s*:?\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})?)`,
  'i',
);
const RELATIVE = new RegExp(String.raw`(?:reset|resets|retry|try again|wait)\w*\s+(?:in|after|for)\s+${DURATION}`, 'i');
const RETRY_AFTER_HEADER = /retry-after\s*:\s*(?:(\d+(?:\.\d+)?)(?![\d.])|([a-z]{3},[^\n]*?GMT))/i;
const UNIX_AFTER_RESET = /(?:reset\w*|limit reached)[^\d\n]{0,20}?(\d{13}|\d{10})\b/i;

/** The reset time (ms since the epoch) named in `text`, if any lies after `now`. */
export function findResetTime(text: string, now: number): number | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const at = resetTimeInLine(lines[i] ?? '', now);
    if (at !== undefined && at > now) return at;
  }
  return undefined;
}

function resetTimeInLine(line: string, now: number): number | undefined {
  const iso = ISO_AFTER_RESET.exec(line);
  if (iso?.[1] !== undefined) {
    const at = parseIso(iso[1]);
    if (at !== undefined) return at;
  }
  const header = RETRY_AFTER_HEADER.exec(line);
  if (header !== null) {
    if (header[1] !== undefined) return now + Number(header[1]) * 1000;
    const date = header[2] === undefined ? NaN : Date.parse(header[2]);
    if (Number.isFinite(date)) return date;
  }
  const relative = RELATIVE.exec(line);
  if (relative?.[1] !== undefined) {
    const ms = parseDuration(relative[1]);
    if (ms !== undefined) return now + ms;
  }
  const unix = UNIX_AFTER_RESET.exec(line);
  if (unix?.[1] !== undefined) return unix[1].length === 13 ? Number(unix[1]) : Number(unix[1]) * 1000;
  return undefined;
}

function parseIso(text: string): number | undefined {
  let iso = text.trim().replace(' ', 'T').replace(/\s*(UTC|GMT)$/i, 'Z');
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(iso)) iso += 'Z';
  const at = Date.parse(iso);
  return Number.isFinite(at) ? at : undefined;
}

/** "37 minutes", "6m0.5s", "1 hour and 30 minutes" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  let total = 0;
  let found = false;
  for (const part of text.matchAll(new RegExp(String.raw`(\d+(?:\.\d+)?)\s*(${UNIT})(?![a-z])`, 'gi'))) {
    const unit = unitKey((part[2] ?? '').toLowerCase());
    if (unit === undefined) continue;
    total += Number(part[1]) * (UNIT_MS[unit] ?? 0);
    found = true;
  }
  return found ? Math.round(total) : undefined;
}

function unitKey(unit: string): string | undefined {
  if (unit === 'ms' || unit.startsWith('milli')) return 'ms';
  if (unit.startsWith('s')) return 's';
  if (unit.startsWith('m')) return 'm';
  if (unit.startsWith('h')) return 'h';
  if (unit.startsWith('d')) return 'd';
  return undefined;
}
