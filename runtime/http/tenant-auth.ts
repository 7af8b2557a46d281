/**
 * Authentication and tenant resolution of every route but /health and the console's static files: the key (`Authorization: Bearer
 * <key>` or `x-api-key: <key>`) is looked up in the host's KeyRing (runtime/tenants/key-ring.ts,
 * constant-time), the request's tenant is set on the hono context (`getTenant(c)`), and its
 * requests-per-minute bucket is taken. Missing or wrong key: 401 `invalid_api_key`; over the rate
 * limit: 429 `tenant_limit` with Retry-After.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { InvariantError } from '../../engine/util/resident-error.js';
import type { Host } from '../host/host.js';
import type { Tenant } from '../tenants/tenant.js';
import { isConsoleAsset } from './console/console-static.js';
import { HttpError } from './errors.js';

const TENANT_VAR = 'tenant';

/** The tenant the request acts as (set by tenantAuth; every route but /health has one). */
export function getTenant(c: Context): Tenant {
  const t = c.get(TENANT_VAR as never) as Tenant | undefined;
  if (!t) throw new InvariantError(`no tenant resolved for ${c.req.method} ${c.req.path}`);
  return t;
}

/** The key a request presents, or undefined. */
function presentedKey(c: Context): string | undefined {
  const h = c.req.header('authorization');
  const xKey = c.req.header('x-api-key'); // Anthropic clients
  if (!h && xKey === undefined) return undefined;
  return h ? /^Bearer\s+(.+)$/i.exec(h.trim())?.[1] ?? '' : xKey;
}

/** The middleware (mount with `app.use('*', …)` before the routes). */
export function tenantAuth(host: Host): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.path === '/health' || isConsoleAsset(c.req.path)) return next(); // the console's files hold no data
    const ring = host.tenants;
    const given = presentedKey(c);
    const r = ring.check(given);
    if (!r.ok) {
      if (r.reason === 'missing') throw new HttpError(401, "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'", 'authentication_error', null, 'invalid_api_key');
      throw new HttpError(401, 'incorrect API key provided', 'authentication_error', null, 'invalid_api_key');
    }
    host.rate.take(r.tenant);
    c.set(TENANT_VAR as never, r.tenant as never);
    return next();
  };
}
