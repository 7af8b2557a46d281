/**
 * The Responses API, stateful: `POST /v1/responses` runs one turn through the chat layer
 * (ChatService) and, with `store` (default true), keeps the response and the session that
 * answered it, so `previous_response_id` continues that session and prefills only the new input.
 * When the session cannot continue (deleted, other tools or instructions), the conversation is
 * rebuilt from the stored chain on a new session. `GET`/`DELETE /v1/responses/{id}`,
 * `POST /v1/responses/{id}/cancel` (an in-flight response), `GET /v1/responses/{id}/input_items`.
 */
import { InvariantError } from '../../../engine/util/resident-error.js';
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { ChatMessage } from '../../../engine/tokens/messages.js';
import type { TurnEvent, TurnOptions } from '../../chat/types.js';
import type { Host } from '../../host/host.js';
import { requestSignal } from '../completion-response.js';
import { badRequest, HttpError, toErrorResponse } from '../errors.js';
import { servedModel } from '../model-names.js';
import { checkMessages, checkTools, effortThinking, type ReasoningEffort } from '../request-checks.js';
import { sseResponse } from '../sse-stream.js';
import { readJson, validator } from '../validate.js';
import { formatOf, inputMessages, resolveReferences, toolChoiceOf, toolsOf, withInstructions } from './input.js';
import { itemId, ResponseBuilder, type ResponseObject } from './output.js';
import { responsesSchema } from './schema.js';
import { ResponseStore, type ResponseRecord } from './store.js';
import { getTenant } from '../tenant-auth.js';
import { canSee, DEFAULT_TENANT_ID, type Tenant } from '../../tenants/tenant.js';

/** The request body as the schema checked it. */
interface ResponsesBody {
  model?: string;
  input: string | Record<string, unknown>[];
  instructions?: string | null;
  previous_response_id?: string | null;
  store?: boolean | null;
  stream?: boolean | null;
  background?: boolean | null;
  tools?: Record<string, unknown>[] | null;
  tool_choice?: unknown;
  parallel_tool_calls?: boolean | null;
  text?: Record<string, unknown> | null;
  reasoning?: { effort?: ReasoningEffort | null; summary?: unknown } | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  seed?: number | null;
  metadata?: Record<string, unknown> | null;
  conversation?: unknown;
  prompt?: unknown;
}

const checkBody = validator<ResponsesBody>(responsesSchema);
const ORIGIN = 'responses';
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** Input items with ids, as GET …/input_items lists them. */
function inputItems(input: ResponsesBody['input']): Record<string, unknown>[] {
  if (typeof input === 'string') return [{ id: itemId('msg'), type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: input }] }];
  return input.map((it) => ({ id: typeof it.id === 'string' ? it.id : itemId(it.type === 'function_call_output' ? 'fco' : 'msg'), type: 'message', ...it }));
}

function notFound(id: string, param = 'response_id'): HttpError {
  return new HttpError(404, `no stored response '${id}' (responses created with store: false are not kept)`, 'not_found_error', param, 'response_not_found');
}

export function registerResponsesRoutes(app: Hono, host: Host): void {
  let opened: ResponseStore | undefined;
  const store = () => (opened ??= ResponseStore.open(join(host.config.dataDir, 'responses'), (m) => host.log(`warning: ${m}`)));
  /** In-flight responses: their cancel switch and the promise of their final object. */
  const inflight = new Map<string, { ac: AbortController; done: Promise<ResponseObject | undefined>; snapshot: () => ResponseObject; tenant: string }>();
  /** A stored record the tenant sees (its own; admin: all), else undefined — another tenant's is as missing. */
  const stored = (t: Tenant, id: string): ResponseRecord | undefined => {
    const r = store().get(id);
    return r && canSee(t, r.tenant ?? DEFAULT_TENANT_ID) ? r : undefined;
  };

  app.post('/v1/responses', async (c) => {
    const b = checkBody(await readJson(c.req.raw));
    const tenant = getTenant(c);
    if (b.background) throw badRequest("background mode is not supported yet: send the request without 'background' (use stream: true to follow progress)", 'background');
    if (b.conversation != null) throw badRequest("'conversation' is not supported: continue a conversation with previous_response_id", 'conversation');
    if (b.prompt != null) throw badRequest("'prompt' (stored prompt templates) is not supported: send instructions and input", 'prompt');
    const model = servedModel(host, b.model);
    const tools = toolsOf(b.tools);
    checkTools(tools);
    const keep = b.store ?? true;
    const prev = b.previous_response_id ? stored(tenant, b.previous_response_id) ?? (() => { throw notFound(b.previous_response_id!, 'previous_response_id'); })() : undefined;
    const input = inputMessages(resolveReferences(b.input, (id) => store().item(id, (r) => canSee(tenant, r.tenant ?? DEFAULT_TENANT_ID))));
    const ac = new AbortController();
    const opts: TurnOptions = {
      toolChoice: toolChoiceOf(b.tool_choice), parallelToolCalls: opt(b.parallel_tool_calls), responseFormat: formatOf(b.text),
      maxTokens: opt(b.max_output_tokens), enableThinking: effortThinking(b.reasoning?.effort), signal: requestSignal(c, ac),
      sampling: { temperature: opt(b.temperature), topP: opt(b.top_p), topK: b.top_k == null || b.top_k < 0 ? undefined : b.top_k, seed: opt(b.seed) },
    };
    const framed = withInstructions(b.instructions, input);
    const newSystem = framed[0]?.role === 'system' && framed !== input ? String(framed[0].content) : null;
    const rest = newSystem !== null ? framed.slice(1) : input;
    checkMessages(rest, tools, 'input', prev?.messages.at(-1));

    let events: AsyncGenerator<TurnEvent> | undefined;
    let system: string | null = newSystem;
    if (prev?.point && (newSystem === null || newSystem === prev.system)) {
      events = await host.chat.continueAt(prev.point, { messages: rest, tools, tenant }, opts);
      if (events) system = prev.system;
    }
    if (!events) {
      let history: ChatMessage[] = [];
      if (prev) {
        const chain = store().chain(prev.response.id);
        if (!chain) throw badRequest(`the conversation before '${prev.response.id}' is incomplete (an earlier response was deleted); start a new one`, 'previous_response_id');
        history = chain.flatMap((r) => r.messages);
        system ??= prev.system;
      }
      const messages = [...(system !== null ? [{ role: 'system' as const, content: system }] : []), ...history, ...rest];
      events = host.chat.complete({ messages, tools, ownOrigin: keep ? ORIGIN : undefined, tenant }, opts);
    }

    const first = await events.next(); // request errors surface here, before any byte
    if (first.done) throw new InvariantError('turn ended before it started');
    const id = itemId('resp');
    const base: ResponseObject = {
      id, object: 'response', created_at: Math.floor(Date.now() / 1000), status: 'in_progress', background: false, error: null, incomplete_details: null,
      instructions: b.instructions ?? null, max_output_tokens: b.max_output_tokens ?? null, model, output: [], parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null, reasoning: { effort: b.reasoning?.effort ?? null, summary: null }, store: keep,
      temperature: b.temperature ?? 1, text: { format: (b.text?.format as object | undefined) ?? { type: 'text' } }, tool_choice: b.tool_choice ?? 'auto',
      tools: b.tools ?? [], top_p: b.top_p ?? 1, truncation: 'disabled', usage: null, user: null, metadata: b.metadata ?? {},
    };
    const items = inputItems(b.input);

    const run = async (builder: ResponseBuilder): Promise<ResponseObject> => {
      let final: ResponseObject | undefined;
      for await (const e of events!) {
        if (e.type !== 'finish') builder.push(e);
        else {
          final = builder.result(e.result, host.tokenizer.encode(e.result.message.reasoning_content ?? '').length);
          if (keep) {
            // Durable before it is acknowledged: the K/V not yet on disk (this turn's), then the record.
            // The turn still holds its session's lock here (the finish event is yielded inside it).
            if (e.result.end !== undefined) await host.store.get(e.result.sessionId).snapshot();
            const rec: ResponseRecord = {
              response: final, inputItems: items, point: e.result.end !== undefined ? { sessionId: e.result.sessionId, end: e.result.end } : null,
              system, tools, messages: [...rest, e.result.message], previousId: prev?.response.id ?? null, tenant: tenant.id,
            };
            await store().put(rec);
            if (store().size > host.config.storedResponses) {
              const orphans = await store().prune(host.config.storedResponses);
              void Promise.all(orphans.filter((o) => o !== e.result.sessionId).map(deleteSession));
            }
          }
          builder.completed(final);
        }
      }
      if (!final) throw new InvariantError('turn ended without a finish event');
      return final;
    };

    const track = (builder: ResponseBuilder, p: Promise<ResponseObject>) => {
      const done = p.then((r) => r, () => undefined).finally(() => inflight.delete(id));
      inflight.set(id, { ac, done, snapshot: () => ({ ...base, output: builder.output }), tenant: tenant.id });
      return p;
    };
    if (b.stream !== true) {
      const builder = new ResponseBuilder(base, null);
      return c.json(await track(builder, run(builder)));
    }
    let builder: ResponseBuilder | undefined;
    return sseResponse(async (send) => {
      builder = new ResponseBuilder(base, send);
      builder.started();
      await track(builder, run(builder));
    }, {
      onCancel: () => ac.abort(),
      onError: (e) => {
        const { body } = toErrorResponse(e);
        return ['error', { type: 'error', code: body.error.code, message: body.error.message, param: body.error.param, sequence_number: builder?.nextSequence() ?? 0 }];
      },
    });
  });

  /** Deletes a session no stored response uses any more (waiting for a turn on it to end). */
  const deleteSession = async (id: string) => {
    try {
      const s = host.store.get(id);
      await host.runner.locked(s, () => host.store.delete(s.id));
    } catch { /* already gone */ }
  };

  /** An in-flight response the tenant sees, or undefined. */
  const running = (t: Tenant, id: string) => {
    const f = inflight.get(id);
    return f && canSee(t, f.tenant) ? f : undefined;
  };
  const find = (t: Tenant, id: string): ResponseObject => {
    const f = running(t, id);
    if (f) return f.snapshot();
    const r = stored(t, id);
    if (!r) throw notFound(id);
    return r.response;
  };

  app.get('/v1/responses/:id', (c) => c.json(find(getTenant(c), c.req.param('id'))));

  app.delete('/v1/responses/:id', async (c) => {
    const id = c.req.param('id');
    const t = getTenant(c);
    if (running(t, id)) throw new HttpError(409, `response '${id}' is in progress; cancel it first`, 'invalid_request_error', 'response_id', 'response_in_progress');
    if (!stored(t, id)) throw notFound(id);
    const { orphan } = await store().delete(id);
    if (orphan) await deleteSession(orphan);
    return c.json({ id, object: 'response', deleted: true });
  });

  app.post('/v1/responses/:id/cancel', async (c) => {
    const id = c.req.param('id');
    const t = getTenant(c);
    const f = running(t, id);
    if (!f) {
      find(t, id);
      throw badRequest(`response '${id}' is not in progress: only an in-progress response can be cancelled`, 'response_id');
    }
    f.ac.abort();
    return c.json((await f.done) ?? { ...f.snapshot(), status: 'cancelled' });
  });

  app.get('/v1/responses/:id/input_items', (c) => {
    const id = c.req.param('id');
    const r = stored(getTenant(c), id);
    if (!r) throw notFound(id);
    const q = c.req.query();
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest("'limit' must be an integer in [1, 100]", 'limit');
    if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw badRequest("'order' must be \"asc\" or \"desc\"", 'order');
    let all = q.order === 'asc' ? r.inputItems : [...r.inputItems].reverse();
    if (q.after !== undefined) {
      const k = all.findIndex((x) => x.id === q.after);
      if (k < 0) throw badRequest(`'after' names no input item of this response`, 'after');
      all = all.slice(k + 1);
    }
    const data = all.slice(0, limit);
    return c.json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: all.length > limit });
  });
}
