/**
 * The agent-run HTTP API (our extension), mounted at /v1/agent:
 *   POST /runs                 start {goal, session_id?, tool_sources?, max_steps?, …, stream?, wait?}
 *                              → 201 run summary; `stream: true` → SSE of the run's events; `wait: true` → the result
 *   GET  /runs                 runs of this process and runs recorded in sessions ('interrupted' after a restart)
 *   GET  /runs/:id             one run (with its result once ended)
 *   GET  /runs/:id/events      SSE: events after `?after=SEQ` (default all kept), then live, until run_end
 *   POST /runs/:id/cancel      cancel; answers the result
 *   POST /runs/:id/resume      {max_steps?, stream?, wait?}: continue a run from its session's record
 *   GET  /tools                tool sources and their tools
 * SSE frames: `id: <seq>`, `event: <type>`, `data: <event JSON>`. A client leaving a stream does not
 * cancel the run (cancel explicitly).
 */
import { Hono, type Context } from 'hono';
import type { Host } from '../host/host.js';
import { HttpError } from '../http/errors.js';
import { readJson } from '../http/validate.js';
import { getTenant } from '../http/tenant-auth.js';
import type { AgentRun } from './agent-run.js';
import { parseRunRequest } from './request.js';
import { agentServiceFor } from './service.js';
import type { AgentEvent } from './types.js';

/** Agent errors carry their own status and code (runtime/http/errors.ts maps them); kept for callers. */
export function agentHttpError(e: unknown): unknown {
  return e;
}

const enc = new TextEncoder();
const idOf = (c: Context): string => c.req.param('id') ?? '';

/** An SSE response of a run's events after `after`. */
export function runEventStream(run: AgentRun, after = -1): Response {
  const stop = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    async start(ctl) {
      try {
        for await (const e of run.subscribe(after, stop.signal)) ctl.enqueue(enc.encode(sseFrame(e)));
      } finally {
        try {
          ctl.close();
        } catch {
          /* already cancelled */
        }
      }
    },
    cancel() {
      stop.abort();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } });
}

/** One SSE frame. */
export function sseFrame(e: AgentEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

const flag = (b: Record<string, unknown>, k: string): boolean => {
  const v = b[k];
  if (v !== undefined && typeof v !== 'boolean') throw new HttpError(400, `'${k}' must be a boolean`, 'invalid_request_error', k);
  return v === true;
};

async function answer(c: Context, run: AgentRun, stream: boolean, wait: boolean): Promise<Response> {
  if (stream) return runEventStream(run);
  if (wait) return c.json(await run.done);
  return c.json(run.summary(), 201);
}

/** The sub-app (mount at /v1/agent). */
export function agentRoutes(host: Host): Hono {
  const r = new Hono();
  const svc = () => agentServiceFor(host);
  const guard = <T>(fn: (c: Context) => Promise<T>) => async (c: Context): Promise<T> => {
    try {
      return await fn(c);
    } catch (e) {
      throw agentHttpError(e);
    }
  };

  r.post('/runs', guard(async (c) => {
    const body = (await readJson(c.req.raw)) as Record<string, unknown>;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
    const stream = flag(body, 'stream');
    const wait = flag(body, 'wait');
    const run = await svc().start(parseRunRequest(body, ['stream', 'wait']), getTenant(c));
    return answer(c, run, stream, wait);
  }));

  r.get('/runs', (c) => c.json({ object: 'list', data: svc().list(getTenant(c)) }));
  r.get('/runs/:id', guard(async (c) => c.json(svc().summary(idOf(c), getTenant(c)))));

  r.get('/runs/:id/events', guard(async (c) => {
    const run = svc().get(idOf(c), getTenant(c));
    if (!run) {
      svc().summary(idOf(c), getTenant(c)); // 404 when unknown
      throw new HttpError(409, `agent run ${idOf(c)} is not running in this process; resume it first`, 'invalid_request_error', null, 'run_state');
    }
    const q = c.req.query('after') ?? c.req.header('last-event-id');
    const after = q === undefined ? -1 : Number(q);
    if (!Number.isInteger(after) || after < -1) throw new HttpError(400, "'after' must be an integer ≥ -1", 'invalid_request_error', 'after');
    return runEventStream(run, after);
  }));

  r.post('/runs/:id/cancel', guard(async (c) => c.json(await svc().cancel(idOf(c), getTenant(c)))));

  r.post('/runs/:id/resume', guard(async (c) => {
    const body = (await readJson(c.req.raw, {})) as Record<string, unknown>;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
    for (const k of Object.keys(body)) if (!['max_steps', 'stream', 'wait'].includes(k)) throw new HttpError(400, `unrecognized field '${k}'`, 'invalid_request_error', k);
    const ms = body.max_steps;
    if (ms !== undefined && !(Number.isInteger(ms) && (ms as number) >= 0 && (ms as number) <= 64)) throw new HttpError(400, "'max_steps' must be an integer in [0, 64]", 'invalid_request_error', 'max_steps');
    const run = await svc().resume(idOf(c), { maxSteps: ms as number | undefined }, getTenant(c));
    return answer(c, run, flag(body, 'stream'), flag(body, 'wait'));
  }));

  r.get('/tools', guard(async (c) => c.json({ object: 'list', data: await svc().tools.list() })));
  return r;
}

/** Mounts the agent routes at /v1/agent on `app`. */
export function registerAgentRoutes(app: Hono, host: Host): void {
  app.route('/v1/agent', agentRoutes(host));
}
