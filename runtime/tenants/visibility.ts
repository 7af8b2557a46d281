/**
 * What a tenant sees of the session store: its own sessions (all of them for `admin`). Names are
 * per tenant: two tenants may each have a session named `notes`; a name resolves to the caller's
 * own session first, then (admin only) to anyone's. An invisible session is reported exactly like
 * a missing one by every caller (404, never 403).
 */
import type { Session } from '../../sessions/session.js';
import { canSee, ownerOfSettings, type Tenant } from './tenant.js';

/** The tenant id owning a session. */
export const ownerOf = (s: Session): string => ownerOfSettings(s.state.settings);

/** Whether `t` may see session `s`. */
export const sees = (t: Tenant, s: Session): boolean => canSee(t, ownerOf(s));

/** The sessions of `list` that `t` sees. */
export function visibleSessions(list: readonly Session[], t: Tenant): Session[] {
  return t.role === 'admin' ? [...list] : list.filter((s) => ownerOf(s) === t.id);
}

/** The session named `name` that `t` sees (its own first), or undefined. */
export function namedSession(list: readonly Session[], t: Tenant, name: string): Session | undefined {
  const named = list.filter((s) => s.state.settings.name === name);
  return named.find((s) => ownerOf(s) === t.id) ?? (t.role === 'admin' ? named[0] : undefined);
}

/** A session by id or name as `t` sees it, or undefined. */
export function visibleSession(store: { list(): Session[]; get(id: string): Session }, t: Tenant, key: string): Session | undefined {
  let s: Session | undefined;
  try {
    s = store.get(key);
  } catch {
    s = undefined;
  }
  if (s && sees(t, s)) return s;
  return namedSession(store.list(), t, key);
}
