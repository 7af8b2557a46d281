/**
 * The HTTP API (hono): OpenAI-compatible `/v1/chat/completions`, `/v1/responses` (responses/) and
 * `/v1/models`, Anthropic-compatible `/v1/messages` (messages/), the session API
 * (`/v1/sessions`, see sessions-routes.ts), the agent API (`/v1/agent`) and MCP endpoint (`/mcp`)
 * registered by their modules, `/metrics` (Prometheus), `/health`, and the web console (`/`, `/console/*`, its JSON under
 * `/v1/console`, see console/).
 * Every route but /health checks Host and Origin (origin-policy.ts); every route but /health and the console's static files
 * resolves the key (Bearer or x-api-key) to a tenant (tenant-auth.ts); bodies
 * are size-limited; every error is OpenAI-shaped JSON, Anthropic-shaped under /v1/messages.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { registerAgentRoutes } from '../agent/routes.js';
import type { Host } from '../host/host.js';
import { registerMcpRoutes } from '../mcp/http.js';
import { answerTurn, requestSignal } from './completion-response.js';
import { discardBody } from './discard-body.js';
import { HttpError, toErrorResponse, type OpenAIErrorBody } from './errors.js';
import { checkMessages, checkTools, checkUnsupported, turnOptionsOf, type ChatCompletionBody } from './request-checks.js';
import { chatCompletionSchema } from './schemas.js';
import { sessionRoutes } from './sessions-routes.js';
import { readJson, validator } from './validate.js';
import { mapLegacyFunctions, usesLegacyFunctions } from './legacy-functions.js';
import { anthropicErrorBody, isAnthropicPath } from './messages/errors.js';
import { registerMessagesRoutes } from './messages/routes.js';
import { checkOrigin } from './origin-policy.js';
import { StorageProbe } from './storage-health.js';
import { modelNames, modelObject, servedModel } from './model-names.js';
import { registerResponsesRoutes } from './responses/routes.js';
import { consoleRoutes } from './console/console-routes.js';
import { isConsoleAsset, registerConsoleStatic } from './console/console-static.js';
import { getTenant, tenantAuth } from './tenant-auth.js';
import { visibleSessions } from '../tenants/visibility.js';

const checkChat = validator<ChatCompletionBody>(chatCompletionSchema);

/** JSON error response. */
export function errorResponse(c: Context, e: unknown): Response {
  const { status, body, headers } = toErrorResponse(e);
  for (const [k, v] of Object.entries(headers ?? {})) c.header(k, v);
  if (isAnthropicPath(c.req.path)) return c.json(anthropicErrorBody(status, body.error.message, body.error.code), status as 400);
  return c.json(body, status as 400);
}

/** Builds the app for a started host. */
export function createApp(host: Host): Hono {
  const app = new Hono();
  const m = host.metrics;

  app.use('*', async (c, next) => {
    m.inFlight.value++;
    try {
      await next();
      // A body the route never read is discarded (up to the limit) so a client still sending it gets the answer; else the connection closes.
      if (c.res.status === 413 || !(await discardBody(c.req.raw, host.config.maxBodyBytes))) c.res.headers.set('connection', 'close');
    } finally {
      m.inFlight.value--;
      m.requests.inc(1, { route: c.req.routePath ?? 'unmatched', method: c.req.method, status: String(c.res.status) });
    }
  });

  app.use('*', async (c, next) => {
    if (c.req.path !== '/health') checkOrigin({ host: c.req.header('host'), origin: c.req.header('origin') }, host.config);
    return next();
  });

  app.use('*', tenantAuth(host)); // key → tenant (getTenant(c)), requests-per-minute

  app.use('*', bodyLimit({
    maxSize: host.config.maxBodyBytes,
    onError: (c) => {
      c.header('connection', 'close'); // the rest of the body is not read: the connection cannot be reused
      return errorResponse(c, new HttpError(413, `the request body exceeds the limit of ${host.config.maxBodyBytes} bytes`, 'invalid_request_error', null, 'request_too_large'));
    },
  }));

  app.onError((e, c) => errorResponse(c, e));
  app.notFound((c) => errorResponse(c, new HttpError(404, `no route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route')));

  const storage = new StorageProbe(host.config.dataDir);
  app.get('/health', async (c) => {
    const mem = host.store.memory();
    const disk = await storage.status();
    return c.json({ status: disk.ok ? 'ok' : 'degraded', model: host.modelId, uptime_s: Math.round((Date.now() - host.startedAt) / 1000), sessions: mem.sessions.length, resident_sessions: mem.residentSessions, storage: disk });
  });

  app.get('/v1/models', (c) => c.json({ object: 'list', data: modelNames(host).map((n) => modelObject(host, n)) }));
  app.get('/v1/models/:model{.+}', (c) => {
    const name = c.req.param('model');
    if (!modelNames(host).includes(name)) throw new HttpError(404, `the model '${name}' does not exist`, 'not_found_error', 'model', 'model_not_found');
    return c.json(modelObject(host, name));
  });

  // Server-wide figures name every tenant: with --keys only admins read them (anyone else: as if there were no such route).
  const adminOnly = (c: Context) => {
    if (getTenant(c).role !== 'admin') throw new HttpError(404, `no route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route');
  };
  app.get('/metrics', (c) => {
    adminOnly(c);
    return c.body(host.metrics.registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.post('/v1/chat/completions', async (c) => {
    const raw = await readJson(c.req.raw);
    const legacy = usesLegacyFunctions(raw);
    const body = checkChat(mapLegacyFunctions(raw));
    checkUnsupported(body);
    const model = servedModel(host, body.model);
    const tools = body.tools ?? undefined;
    checkTools(tools);
    checkMessages(body.messages, tools);
    const ac = new AbortController();
    const opts = turnOptionsOf(body, requestSignal(c, ac));
    const events = host.chat.complete({ messages: body.messages, tools, kwargs: body.chat_template_kwargs ?? undefined, sessionName: body.session_id, tenant: getTenant(c) }, opts);
    return answerTurn(c, model, events, body.stream === true, body.stream_options?.include_usage === true, ac, legacy);
  });

  registerResponsesRoutes(app, host);
  registerMessagesRoutes(app, host);
  app.route('/v1/sessions', sessionRoutes(host));
  registerAgentRoutes(app, host);
  registerMcpRoutes(app, host);
  app.use('/v1/console/server', async (c, next) => {
    adminOnly(c);
    return next();
  });
  app.route('/v1/console', consoleRoutes(host, {
    sessions: (c) => visibleSessions(host.store.list(), getTenant(c)),
    damaged: (c) => (getTenant(c).role === 'admin' ? [...host.store.damaged] : []),
  }));
  registerConsoleStatic(app);
  return app;
}

export type { OpenAIErrorBody };
