/**
 * The session API (our extension), mounted at /v1/sessions. A session is addressed by id or name, as
 * the request's tenant sees it (runtime/tenants/visibility.ts): another tenant's is a 404 like a missing one.
 *   POST   /                     create {name?, tools?, chat_template_kwargs?, messages?, pinned?}
 *   GET    /                     list
 *   GET    /:id                  one session with its messages
 *   POST   /:id/messages         append {messages} or {document} (no generation)
 *   POST   /:id/generate         one assistant turn {messages?, stream?, max_tokens, temperature, tool_choice, …}
 *   POST   /:id/fork             {message?, name?}: new session sharing the history before message k
 *   POST   /:id/rollback         {message}: drop message k and everything after it
 *   POST   /:id/edit             {message, replacement}: replace message k, keep the later ones
 *   POST   /:id/snapshot         write the resident K/V to disk now
 *   DELETE /:id                  delete
 */
import { Hono, type Context } from 'hono';
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import { chatMessagesOf, sessionKwargs } from '../chat/conversation.js';
import type { Host } from '../host/host.js';
import { answerTurn, requestSignal } from './completion-response.js';
import { HttpError } from './errors.js';
import { checkMessages, checkTools, turnOptionsOf, type GenerationBody } from './request-checks.js';
import { appendSchema, createSessionSchema, editSchema, forkSchema, generateSchema, rollbackSchema } from './schemas.js';
import { damagedList, refuseDamaged, repairSession } from './session-repair.js';
import { readJson, validator } from './validate.js';
import { getTenant } from './tenant-auth.js';
import type { Tenant } from '../tenants/tenant.js';
import { ownerOf, visibleSession, visibleSessions } from '../tenants/visibility.js';

const checkCreate = validator<{ name?: string; messages?: ChatMessage[]; tools?: ToolDefinition[]; chat_template_kwargs?: Record<string, unknown>; pinned?: boolean }>(createSessionSchema);
const checkAppend = validator<{ messages?: ChatMessage[]; document?: string }>(appendSchema);
const checkGenerate = validator<GenerationBody & { messages?: ChatMessage[] }>(generateSchema);
const checkFork = validator<{ message?: number; name?: string }>(forkSchema);
const checkRollback = validator<{ message: number }>(rollbackSchema);
const checkEdit = validator<{ message: number; replacement: ChatMessage }>(editSchema);

/** Public summary of a session. */
export function sessionSummary(s: Session) {
  const i = s.info();
  return {
    id: i.id,
    object: 'session',
    name: (i.settings.name as string | undefined) ?? null,
    origin: (i.settings.origin as string | undefined) ?? null,
    tenant: ownerOf(s),
    created_at: Math.floor(i.createdAt / 1000),
    last_used_at: Math.floor(i.lastUsedAt / 1000),
    token_count: i.tokenCount,
    resident: i.resident,
    pinned: i.pinned,
    parent: i.parent ?? null,
    counters: i.counters,
  };
}

/** Summary plus messages, tools and kwargs. */
export function sessionView(s: Session) {
  return { ...sessionSummary(s), messages: chatMessagesOf(s), tools: s.state.tools, chat_template_kwargs: sessionKwargs(s), warnings: s.info().warnings };
}

/** The body of a POST whose fields are all optional may be absent. */
const optionalJson = (c: Context): Promise<unknown> => readJson(c.req.raw, {});

export function sessionRoutes(host: Host): Hono {
  const r = new Hono();
  /** A session the request's tenant sees, by id or name; anything else is 404 (damaged: 409, admins only). */
  const find = (c: Context, key: string): Session => {
    const t = getTenant(c);
    if (t.role === 'admin') refuseDamaged(host, key);
    const s = visibleSession(host.store, t, key);
    if (!s) throw new HttpError(404, `session '${key}' not found`, 'not_found_error', 'session_id', 'session_not_found');
    return s;
  };
  const lastMessage = (s: Session) => chatMessagesOf(s).at(-1);
  /** A session of `owner` (a tenant or its id) named `name`: names are unique per tenant. */
  const ownNamed = (owner: Tenant | string, name: string) => {
    const id = typeof owner === 'string' ? owner : owner.id;
    return host.store.list().some((x) => x.state.settings.name === name && ownerOf(x) === id);
  };

  r.post('/', async (c) => {
    const b = checkCreate(await optionalJson(c));
    checkTools(b.tools);
    if (b.messages?.length) checkMessages(b.messages, b.tools);
    const t = getTenant(c);
    if (b.name !== undefined && ownNamed(t, b.name)) throw new HttpError(409, `a session named '${b.name}' already exists`, 'invalid_request_error', 'name', 'session_exists');
    const s = await host.runner.createSession({ tools: b.tools, kwargs: b.chat_template_kwargs, pinned: b.pinned, settings: { origin: 'api', ...(b.name ? { name: b.name } : {}) }, tenant: t.id });
    try {
      if (b.messages?.length) await host.runner.appendMessages(s, b.messages, { signal: c.req.raw.signal });
    } catch (e) {
      await host.store.delete(s.id).catch(() => undefined);
      throw e;
    }
    return c.json(sessionView(s), 201);
  });

  r.get('/', (c) => {
    const damaged = c.req.query('damaged');
    if (damaged !== undefined && damaged !== 'true' && damaged !== 'false') throw new HttpError(400, "'damaged' must be true or false", 'invalid_request_error', 'damaged');
    const t = getTenant(c);
    if (damaged === 'true') return c.json({ object: 'list', data: t.role === 'admin' ? damagedList(host) : [] });
    return c.json({ object: 'list', data: visibleSessions(host.store.list(), t).map(sessionSummary) });
  });
  r.post('/:id/repair', async (c) => {
    const t = getTenant(c);
    const id = c.req.param('id');
    if (t.role !== 'admin' && !visibleSession(host.store, t, id)) throw new HttpError(404, `session '${id}' not found`, 'not_found_error', 'session_id', 'session_not_found');
    return c.json(await repairSession(host, id));
  });
  r.get('/:id', (c) => c.json(sessionView(find(c, c.req.param('id')))));

  r.post('/:id/messages', async (c) => {
    const s = find(c, c.req.param('id'));
    const b = checkAppend(await readJson(c.req.raw));
    if ((b.messages === undefined) === (b.document === undefined)) throw new HttpError(400, "send either 'messages' or 'document'", 'invalid_request_error', b.messages ? 'document' : 'messages');
    let report;
    if (b.messages) {
      checkMessages(b.messages, s.state.tools as ToolDefinition[], 'messages', lastMessage(s));
      report = await host.runner.appendMessages(s, b.messages, { signal: c.req.raw.signal });
    } else report = await host.runner.appendDocument(s, b.document!, { signal: c.req.raw.signal });
    return c.json({ appended: { tokens: report.tokens, prefilled_tokens: report.prefilled, first_message: report.firstMessage }, session: sessionSummary(s) });
  });

  r.post('/:id/generate', async (c) => {
    const s = find(c, c.req.param('id'));
    const b = checkGenerate(await optionalJson(c));
    const messages = b.messages ?? [];
    if (messages.length) checkMessages(messages, s.state.tools as ToolDefinition[], 'messages', lastMessage(s));
    const ac = new AbortController();
    const events = host.runner.turn(s, messages, turnOptionsOf(b, requestSignal(c, ac)));
    return answerTurn(c, host.modelId, events, b.stream === true, b.stream_options?.include_usage === true, ac);
  });

  r.post('/:id/fork', async (c) => {
    const s = find(c, c.req.param('id'));
    const b = checkFork(await optionalJson(c));
    if (b.name !== undefined && ownNamed(ownerOf(s), b.name)) throw new HttpError(409, `a session named '${b.name}' already exists`, 'invalid_request_error', 'name', 'session_exists');
    const child = await host.runner.fork(s, b.message, { name: b.name, origin: 'api' });
    return c.json(sessionView(child), 201);
  });

  r.post('/:id/rollback', async (c) => {
    const s = find(c, c.req.param('id'));
    const b = checkRollback(await readJson(c.req.raw));
    await host.runner.rollback(s, b.message);
    return c.json(sessionView(s));
  });

  r.post('/:id/edit', async (c) => {
    const s = find(c, c.req.param('id'));
    const b = checkEdit(await readJson(c.req.raw));
    checkMessages([b.replacement], s.state.tools as ToolDefinition[], 'replacement', chatMessagesOf(s)[b.message - 1]);
    await host.runner.editMessage(s, b.message, b.replacement);
    return c.json(sessionView(s));
  });

  r.post('/:id/snapshot', async (c) => {
    const s = find(c, c.req.param('id'));
    const written = await host.runner.locked(s, () => s.snapshot());
    return c.json({ id: s.id, positions_written: written, snapshot_covered: s.info().snapshotCovered });
  });

  r.delete('/:id', async (c) => {
    const s = find(c, c.req.param('id'));
    await host.runner.locked(s, () => host.store.delete(s.id));
    return c.json({ id: s.id, object: 'session.deleted', deleted: true });
  });
  return r;
}
