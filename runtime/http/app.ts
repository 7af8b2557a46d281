/**
 * The HTTP API (hono): OpenAI-compatible `/v1/chat/completions` and `/v1/models`, the session API
 * (`/v1/sessions`, see sessions-routes.ts), the agent API (`/v1/agent`) and MCP endpoint (`/mcp`)
 * registered by their modules, `/metrics` (Prometheus) and `/health`.
 * Every route but /health requires the API key when one is configured; bodies are size-limited;
 * every error is OpenAI-shaped JSON.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { registerAgentRoutes } from '../agent/routes.js';
import type { Host } from '../host/host.js';
import { registerMcpRoutes } from '../mcp/http.js';
import { answerTurn, requestSignal } from './completion-response.js';
import { HttpError, toErrorResponse, type OpenAIErrorBody } from './errors.js';
import { checkMessages, checkTools, checkUnsupported, turnOptionsOf, type ChatCompletionBody } from './request-checks.js';
import { chatCompletionSchema } from './schemas.js';
import { sessionRoutes } from './sessions-routes.js';
import { readJson, validator } from './validate.js';

const checkChat = validator<ChatCompletionBody>(chatCompletionSchema);

/** JSON error response. */
export function errorResponse(c: Context, e: unknown): Response {
  const { status, body } = toErrorResponse(e);
  return c.json(body, status as 400);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Builds the app for a started host. */
export function createApp(host: Host): Hono {
  const app = new Hono();
  const m = host.metrics;

  app.use('*', async (c, next) => {
    m.inFlight.value++;
    try {
      await next();
    } finally {
      m.inFlight.value--;
      m.requests.inc(1, { route: c.req.routePath ?? 'unmatched', method: c.req.method, status: String(c.res.status) });
    }
  });

  const key = host.config.apiKey;
  if (key !== undefined) {
    const want = digest(key);
    app.use('*', async (c, next) => {
      if (c.req.path === '/health') return next();
      const h = c.req.header('authorization');
      if (!h) throw new HttpError(401, "missing API key: send 'Authorization: Bearer <key>'", 'authentication_error', null, 'invalid_api_key');
      const m2 = /^Bearer\s+(.+)$/i.exec(h.trim());
      if (!m2 || !timingSafeEqual(digest(m2[1]!), want)) throw new HttpError(401, 'incorrect API key provided', 'authentication_error', null, 'invalid_api_key');
      return next();
    });
  }

  app.use('*', bodyLimit({
    maxSize: host.config.maxBodyBytes,
    onError: (c) => {
      c.header('connection', 'close'); // the rest of the body is not read: the connection cannot be reused
      return errorResponse(c, new HttpError(413, `the request body exceeds the limit of ${host.config.maxBodyBytes} bytes`, 'invalid_request_error', null, 'request_too_large'));
    },
  }));

  app.onError((e, c) => errorResponse(c, e));
  app.notFound((c) => errorResponse(c, new HttpError(404, `no route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route')));

  app.get('/health', (c) => {
    const mem = host.store.memory();
    return c.json({ status: 'ok', model: host.modelId, uptime_s: Math.round((Date.now() - host.startedAt) / 1000), sessions: mem.sessions.length, resident_sessions: mem.residentSessions });
  });

  const modelObject = () => ({ id: host.modelId, object: 'model', created: Math.floor(host.startedAt / 1000), owned_by: 'resident', max_model_len: host.capacity });
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [modelObject()] }));
  app.get('/v1/models/:model{.+}', (c) => {
    if (c.req.param('model') !== host.modelId) throw new HttpError(404, `the model '${c.req.param('model')}' does not exist`, 'not_found_error', 'model', 'model_not_found');
    return c.json(modelObject());
  });

  app.get('/metrics', (c) => c.body(host.metrics.registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.post('/v1/chat/completions', async (c) => {
    const body = checkChat(await readJson(c.req.raw));
    checkUnsupported(body);
    if (body.model !== undefined && body.model !== host.modelId) {
      throw new HttpError(404, `the model '${body.model}' does not exist (this server serves '${host.modelId}')`, 'invalid_request_error', 'model', 'model_not_found');
    }
    const tools = body.tools ?? undefined;
    checkTools(tools);
    checkMessages(body.messages, tools);
    const ac = new AbortController();
    const opts = turnOptionsOf(body, requestSignal(c, ac));
    const events = host.chat.complete({ messages: body.messages, tools, kwargs: body.chat_template_kwargs ?? undefined, sessionName: body.session_id }, opts);
    return answerTurn(c, host.modelId, events, body.stream === true, body.stream_options?.include_usage === true, ac);
  });

  app.route('/v1/sessions', sessionRoutes(host));
  registerAgentRoutes(app, host);
  registerMcpRoutes(app, host);
  return app;
}

export type { OpenAIErrorBody };
