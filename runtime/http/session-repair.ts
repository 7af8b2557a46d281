/**
 * Damaged sessions (journal failing its checks, or written for another model) as the APIs show
 * them: listed with `state: "damaged"` and the reason, refused with 409 `session_damaged` when
 * addressed, and repaired on request — the journal cut before its first bad record, reporting what
 * was dropped.
 */
import type { Host } from '../host/host.js';
import { HttpError } from './errors.js';
import { sessionView } from './sessions-routes.js';

/** One damaged session as listed. */
export function damagedSummary(id: string, e: Error) {
  return { id, object: 'session', state: 'damaged' as const, error: { type: e.name, message: e.message } };
}

/** Every damaged session. */
export function damagedList(host: Host) {
  return [...host.store.damaged].map(([id, e]) => damagedSummary(id, e));
}

/** Throws 409 `session_damaged` when `id` names a damaged session. */
export function refuseDamaged(host: Host, id: string): void {
  const e = host.store.damaged.get(id);
  if (e) throw new HttpError(409, `session '${id}' is damaged (${e.message}); POST /v1/sessions/${id}/repair cuts its journal before the first bad record`, 'invalid_request_error', 'session_id', 'session_damaged');
}

/** Repairs a damaged session: 404 when no such session, 409 `session_not_damaged` when it loads fine. */
export async function repairSession(host: Host, id: string) {
  if (!host.store.damaged.has(id)) {
    if (host.store.list().some((s) => s.id === id)) throw new HttpError(409, `session '${id}' is not damaged`, 'invalid_request_error', 'session_id', 'session_not_damaged');
    throw new HttpError(404, `session '${id}' not found`, 'not_found_error', 'session_id', 'session_not_found');
  }
  const { session, report } = await host.store.repair(id);
  return {
    id,
    object: 'session.repair',
    dropped_bytes: report.droppedBytes,
    ...(report.offset !== undefined ? { cut_at_byte: report.offset, reason: report.reason } : {}),
    session: sessionView(session),
  };
}
