/**
 * JSON endpoints of the web console (our extension), mounted at /v1/console behind the same Host,
 * Origin and API-key checks as every API route:
 *   GET /sessions        rows of the sessions list (origin kind, residency, KV bytes, last use), damaged ones included
 *   GET /sessions/:id    row + transcript (token ranges, rendered text) + fork tree + checkpoint and snapshot marks
 *   GET /server          model, kernels, threads, memory, slots, queue depth, and the activity samples
 *   GET /turns           recent turns of the visible sessions: tokens, time to first token, decode rate
 * Actions (fork, rollback, delete, snapshot, generate, agent runs) go through the public API.
 */
import { Hono, type Context } from 'hono';
import type { Session } from '../../../sessions/session.js';
import type { Host } from '../../host/host.js';
import { HttpError } from '../errors.js';
import { damagedRow, forkTree, sessionRow, transcriptOf } from './console-sessions.js';

/**
 * Who sees what: the sessions and damaged ids a request may see. The one place a per-request filter
 * (tenants) applies for every console view.
 */
export interface ConsoleScope {
  sessions(c: Context): Session[];
  damaged(c: Context): [string, Error][];
}

const notFound = (id: string) => new HttpError(404, `session '${id}' not found`, 'not_found_error', 'session_id', 'session_not_found');

/** The sub-app (mount at /v1/console). */
export function consoleRoutes(host: Host, scope: ConsoleScope): Hono {
  const r = new Hono();

  r.get('/sessions', (c) => {
    const rows = [...scope.sessions(c).map(sessionRow), ...scope.damaged(c).map(([id, e]) => damagedRow(id, e))];
    return c.json({ object: 'list', data: rows });
  });

  r.get('/sessions/:id', (c) => {
    const key = c.req.param('id');
    const visible = scope.sessions(c);
    const s = visible.find((x) => x.id === key) ?? visible.find((x) => x.state.settings.name === key);
    if (!s) {
      const d = scope.damaged(c).find(([id]) => id === key);
      if (d) return c.json({ ...damagedRow(d[0], d[1]), transcript: null, tree: null });
      throw notFound(key);
    }
    const i = s.info();
    return c.json({
      ...sessionRow(s),
      tools: (i.tools as { function?: { name?: string } }[]).map((t) => t.function?.name ?? '?'),
      slot_length: i.slotLength,
      journal_bytes: i.journalBytes,
      counters: i.counters,
      checkpoints: { positions: i.checkpoints.positions, bytes: i.checkpoints.bytes, budget_bytes: i.checkpoints.budgetBytes },
      warnings: i.warnings,
      transcript: transcriptOf(host, s),
      tree: forkTree(s, visible),
    });
  });

  r.get('/server', (c) => {
    const e = host.engine;
    const mem = host.store.memory();
    const st = host.scheduler.stats();
    const res = host.resolved!;
    return c.json({
      model: { id: host.modelId, architecture: e.config.arch, layers: e.config.nLayers, weights: e.weightDtype, weight_mode: e.weightMode, activations: e.activationMode, context_tokens: host.capacity },
      engine: { kernels: e.kernels, threads: e.threads, max_batch_tokens: e.maxBatchTokens, steps: st.steps, step_tokens: st.tokens },
      memory: {
        weights_bytes: res.weightBytes, kv_resident_bytes: mem.kvBytes, kv_spare_bytes: mem.spareBytes, kv_budget_bytes: mem.kvBudgetBytes,
        checkpoint_bytes: mem.checkpointBytes, bytes_per_token: mem.bytesPerToken, process_rss_bytes: process.memoryUsage().rss,
      },
      slots: { in_use: mem.residentSessions, max: mem.maxResidentSlots, spare: mem.spareSlots, created: mem.slotsCreated },
      sessions: { total: mem.sessions.length, damaged: host.store.damaged.size },
      queue_depth: st.active,
      in_flight: host.metrics.inFlight.value,
      uptime_s: Math.round((Date.now() - host.startedAt) / 1000),
      interval_ms: host.activity.o.intervalMs,
      history: host.activity.history(),
    });
  });

  r.get('/turns', (c) => {
    const ids = new Set(scope.sessions(c).map((s) => s.id));
    return c.json({ object: 'list', data: host.activity.recentTurns((id) => ids.has(id)) });
  });
  return r;
}
