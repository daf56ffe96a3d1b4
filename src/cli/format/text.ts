// Small text helpers for the read commands: times, durations, money, one-line excerpts, quoting.
// Pure and dependency-free: `orch review` loads this on its fast path.

/** The first non-empty line of `text`, trimmed. */
export function firstLine(text: string | undefined): string {
  if (text === undefined) return '';
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== '') return trimmed;
  }
  return '';
}

/**
 * `text` with control characters (terminal escapes included) removed, folded to one line and cut to
 * `max` characters with an ellipsis: what a command or person wrote is shown, never obeyed by the terminal.
 */
export function shorten(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '').replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, Math.max(1, max - 1))}…` : flat;
}

/** "$0.38"; 4 digits below a cent so small calls do not read as free. */
export function money(usd: number): string {
  return usd > 0 && usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** A duration for people: "0.4s", "12.3s", "4m 05s", "2h 03m". */
export function duration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** "3m ago" / "in 20s", relative to `now` (epoch ms). */
export function relative(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (!Number.isFinite(ms)) return iso;
  const text = duration(Math.abs(ms) / 1000).replace(/\.\ds$/, 's');
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** "2025-12-10 10:30:01Z (3m ago)": an ISO time shortened to the second, with how long ago. */
export function when(iso: string, now: number): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z (${relative(iso, now)})`;
}

/** `word` quoted for a POSIX shell when it needs to be. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
