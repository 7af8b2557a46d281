/**
 * Per-tenant limits (keys-file.ts), answered 429 `tenant_limit` with a message naming the limit:
 * - `requests_per_minute`: a token bucket per tenant (capacity = the limit, refilled at limit/60 per
 *   second), taken by every request but /health; the answer carries Retry-After.
 * - `sessions`: sessions the tenant owns; a create or fork that would exceed it is refused.
 * - `kv_bytes`: KV its sessions hold (tokens × bytes per token, plus one recurrent state per session
 *   on hybrids; resident or spilled alike); once reached, creates, forks, appends and turns are refused
 *   (rollback and delete, which shrink it, stay allowed). Checked before the work: one request may
 *   overshoot by its own tokens.
 */
import { ResidentError } from '../../engine/util/resident-error.js';
import type { Session } from '../../sessions/session.js';
import { ownerOfSettings, type Tenant, type TenantLimits } from './tenant.js';

/** A tenant is over one of its limits (keys file): 429 `tenant_limit`. */
export class TenantLimitError extends ResidentError {
  override name = 'TenantLimitError';
  override code = 'tenant_limit';
  override status = 429;
  constructor(message: string, readonly limit: string | null = null, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

/** Requests-per-minute buckets of every tenant. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one request from `t`'s bucket; throws TenantLimitError when it is empty. */
  take(t: Tenant, now = Date.now()): void {
    const rpm = t.limits.requestsPerMinute;
    if (rpm === undefined) return;
    const perMs = rpm / 60_000;
    const b = this.buckets.get(t.id) ?? { tokens: rpm, at: now };
    b.tokens = Math.min(rpm, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.set(t.id, b);
    if (b.tokens < 1) {
      const wait = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
      throw new TenantLimitError(`tenant '${t.id}' is over its limit requests_per_minute = ${rpm}; retry in ${wait} s`, 'requests_per_minute', wait);
    }
    b.tokens -= 1;
  }
}

/** What a tenant's sessions hold. */
export interface TenantUsage {
  sessions: number;
  kvBytes: number;
}

/** Sessions and KV bytes owned by `owner` among `sessions`. */
export function usageOf(sessions: Iterable<Session>, owner: string, bytesPerToken: number, stateBytes: number): TenantUsage {
  let n = 0;
  let kv = 0;
  for (const s of sessions) {
    if (ownerOfSettings(s.state.settings) !== owner) continue;
    n++;
    kv += s.state.tokens.length * bytesPerToken + stateBytes;
  }
  return { sessions: n, kvBytes: kv };
}

/** Throws when `owner` may not add a session. */
export function checkNewSession(owner: string, limits: TenantLimits, u: TenantUsage): void {
  if (limits.sessions !== undefined && u.sessions >= limits.sessions) {
    throw new TenantLimitError(`tenant '${owner}' is at its limit sessions = ${limits.sessions}: delete a session first`, 'sessions');
  }
  checkGrowth(owner, limits, u);
}

/** Throws when `owner`'s sessions may not grow. */
export function checkGrowth(owner: string, limits: TenantLimits, u: TenantUsage): void {
  if (limits.kvBytes !== undefined && u.kvBytes >= limits.kvBytes) {
    throw new TenantLimitError(`tenant '${owner}' is at its limit kv_bytes = ${limits.kvBytes} (its sessions hold ${u.kvBytes} bytes of KV): roll back or delete sessions first`, 'kv_bytes');
  }
}
