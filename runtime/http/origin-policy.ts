/**
 * Who may reach the server from a browser. DNS rebinding needs a host *name* pointing at us, so the
 * Host header must be an IP literal, `localhost` (or `*.localhost`), the `--host` we listen on, or an
 * `--allow-host` name. A browser marks every cross-origin request with `Origin`: one that is neither
 * the request's own origin nor an `--allow-origin` is refused (this also stops a cross-site
 * `text/plain` form POST). Clients that are not browsers send no Origin and are not affected.
 * Refusals are 403 with code `host_not_allowed` / `origin_not_allowed`.
 */
import { isIP } from 'node:net';
import { HttpError } from './errors.js';

/** What the policy admits, from the serve config. */
export interface OriginPolicyConfig {
  host: string;
  allowHosts: readonly string[];
  allowOrigins: readonly string[];
}

/** `host[:port]` → lower-case host name without brackets or port, or undefined if malformed. */
export function hostNameOf(hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([^:[\]\s/]+)(?::\d{1,5})?$/.exec(h);
  return m?.[1];
}

/** True when the Host header names this server in a way rebinding cannot forge. */
export function hostAllowed(hostHeader: string | undefined, c: OriginPolicyConfig): boolean {
  if (c.allowHosts.includes('*')) return true;
  if (hostHeader === undefined) return false;
  const name = hostNameOf(hostHeader);
  if (name === undefined) return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === c.host.toLowerCase()) return true;
  return c.allowHosts.some((a) => a.toLowerCase() === name);
}

/** True when a request with this Origin (absent = not a browser) may proceed. */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined, c: OriginPolicyConfig): boolean {
  if (origin === undefined) return true;
  if (c.allowOrigins.includes('*')) return true;
  const o = origin.trim().toLowerCase();
  if (c.allowOrigins.includes(o)) return true;
  if (hostHeader === undefined || o === 'null') return false;
  const h = hostHeader.trim().toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}

/** Throws a 403 HttpError when the request's Host or Origin is not admitted. */
export function checkOrigin(headers: { host?: string; origin?: string }, c: OriginPolicyConfig): void {
  if (!hostAllowed(headers.host, c)) {
    throw new HttpError(403, `the Host header '${headers.host ?? ''}' is not allowed: use an IP address or localhost, or start the server with --allow-host NAME`, 'invalid_request_error', null, 'host_not_allowed');
  }
  if (!originAllowed(headers.origin, headers.host, c)) {
    throw new HttpError(403, `requests from origin '${headers.origin}' are not allowed: start the server with --allow-origin ${headers.origin}`, 'invalid_request_error', null, 'origin_not_allowed');
  }
}
