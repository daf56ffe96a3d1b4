// Who may talk to `orch serve` (PRODUCT.md §15, specs/serve.md): every request needs the token, as
// `Authorization: Bearer` (API clients) or as the session cookie a browser gets by exchanging the
// one-time link; the Host must be ours (DNS rebinding); a foreign Origin is refused; a state-changing or
// streaming request that has only the cookie must show it comes from our own page (its Origin, or the
// browser's Sec-Fetch-Site: same-origin), so a page elsewhere cannot ride on it. Peers were broken
// through each of these (vibe-kanban's missing Origin check, beads-ui's websocket, a dashboard's
// upgrade that skipped the HTTP checks).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'orch_session';

export type Verdict = { ok: true; by: 'bearer' | 'cookie' | 'link' } | { ok: false; status: 401 | 403; code: string; message: string };

/** A secret of 32 random bytes, URL-safe. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Guard {
  /** The one-time link's code: taken once, then gone. */
  private link: string | undefined = newSecret();
  /**
   * Signs session cookies (`<nonce>.<HMAC of the nonce>`): a session is checked without a table, and
   * one made before a restart of the server still holds after it (the key is kept in serve.key, 0600),
   * so a browser's event stream reconnects by itself.
   */
  private readonly sessionKey: string;

  /** The Bearer token (serve.json). */
  readonly token: string;
  /** Host header values that name this server: 127.0.0.1:<port> and localhost:<port> (it listens on 127.0.0.1 only). */
  private readonly hosts: ReadonlySet<string>;

  constructor(token: string, hosts: ReadonlySet<string>, sessionKey: string) {
    this.token = token;
    this.hosts = hosts;
    this.sessionKey = sessionKey;
  }

  private signed(nonce: string): string {
    return createHmac('sha256', this.sessionKey).update(nonce).digest('base64url');
  }

  private validSession(cookie: string): boolean {
    const [nonce, mac, ...rest] = cookie.split('.');
    return nonce !== undefined && mac !== undefined && rest.length === 0 && nonce.length >= 32 && same(mac, this.signed(nonce));
  }

  /** The one-time link's code, while it has not been used. */
  linkCode(): string | undefined {
    return this.link;
  }

  /** The Origin values of our own pages. */
  private origins(): Set<string> {
    return new Set([...this.hosts].map(host => `http://${host}`));
  }

  /** Checks Host, credentials and (for `sensitive` requests) Origin. */
  check(request: IncomingMessage, sensitive: boolean, linkCode: string | undefined): Verdict {
    const host = request.headers.host ?? '';
    if (!this.hosts.has(host)) return { ok: false, status: 403, code: 'forbidden_host', message: `Host "${host}" is not this server's: open it as http://127.0.0.1 or http://localhost` };
    const origin = request.headers.origin;
    if (origin !== undefined && !this.origins().has(origin)) return { ok: false, status: 403, code: 'forbidden_origin', message: `requests from ${origin} are refused` };
    if (linkCode !== undefined) {
      if (this.link === undefined || !same(linkCode, this.link)) return { ok: false, status: 401, code: 'link_used', message: 'this one-time link has been used or is wrong: run `orch serve --open` for a new one' };
      this.link = undefined;
      return { ok: true, by: 'link' };
    }
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return same(bearer, this.token) ? { ok: true, by: 'bearer' } : { ok: false, status: 401, code: 'bad_token', message: 'the token is wrong (serve.json has it)' };
    const session = cookieOf(request, SESSION_COOKIE);
    if (session === undefined || !this.validSession(session)) {
      return { ok: false, status: 401, code: 'no_token', message: 'a token is needed: Authorization: Bearer <token from serve.json>, or open the one-time link' };
    }
    // A cookie rides along with any page's request: what changes or streams must show it comes from one
    // of ours, by its Origin, or by the browser's own fetch metadata (a same-origin EventSource or GET
    // carries no Origin; every current browser says Sec-Fetch-Site, and a page elsewhere cannot forge it).
    // `none`: the person opened it themselves (the address bar, a bookmark).
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return { ok: false, status: 403, code: 'forbidden_site', message: `a ${site} request is refused` };
    if (sensitive && origin === undefined && site !== 'same-origin') {
      return { ok: false, status: 403, code: 'missing_origin', message: 'a request with the session cookie must carry this server\'s Origin (or come from its own page)' };
    }
    return { ok: true, by: 'cookie' };
  }

  /** A new browser session (after the link was exchanged): its cookie's value. */
  openSession(): string {
    const nonce = newSecret();
    return `${nonce}.${this.signed(nonce)}`;
  }

  /** A new one-time link code, the last one spent or not (orch --serve prints one when the first was used). */
  renewLink(): string {
    this.link = newSecret();
    return this.link;
  }
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** Headers on every answer: no sniffing, no framing, no inline script, nothing cached, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
