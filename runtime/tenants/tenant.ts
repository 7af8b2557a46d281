/**
 * Tenants: who a request acts as. A tenant is `{id, role, limits}`; `user` tenants see and touch only
 * what they created, `admin` tenants see everything. Without `--keys` every request acts as the
 * one {@link LOCAL_TENANT} (id `default`, admin): the single-tenant behaviour of `--api-key` or no key.
 * Ownership is a session setting (`settings.tenant`, journaled with the session, see docs/formats.md);
 * a session without it (created before tenants existed) belongs to `default`.
 */

/** Per-tenant limits from the keys file; absent = unlimited. */
export interface TenantLimits {
  /** Sessions the tenant may own at once (named, anonymous chat, agent, responses, forks). */
  sessions?: number;
  /** KV bytes its sessions may hold together (tokens × bytes per token, resident or on disk). */
  kvBytes?: number;
  /** Requests per minute over every route (sliding one-minute token bucket). */
  requestsPerMinute?: number;
}

export type TenantRole = 'user' | 'admin';

/** The tenant a request acts as. */
export interface Tenant {
  /** 1..64 of [A-Za-z0-9._-]. */
  id: string;
  role: TenantRole;
  limits: TenantLimits;
}

/** Owner of sessions made before tenants existed, and the tenant of an open or single-key server. */
export const DEFAULT_TENANT_ID = 'default';

/** The session setting holding the owner's tenant id. */
export const TENANT_SETTING = 'tenant';

/** The tenant of a server without a keys file (no key or one --api-key), of the CLI and of stdio MCP. */
export const LOCAL_TENANT: Tenant = Object.freeze({ id: DEFAULT_TENANT_ID, role: 'admin', limits: Object.freeze({}) }) as Tenant;

/** Tenant ids as the keys file must spell them. */
export const TENANT_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** The owner recorded in a session's settings (`default` when none). */
export function ownerOfSettings(settings: Readonly<Record<string, unknown>>): string {
  const t = settings[TENANT_SETTING];
  return typeof t === 'string' && t !== '' ? t : DEFAULT_TENANT_ID;
}

/** Whether `t` may see (and act on) something owned by `owner`. */
export function canSee(t: Tenant, owner: string): boolean {
  return t.role === 'admin' || t.id === owner;
}
