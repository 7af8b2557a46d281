/**
 * Turns the chat layer's events into OpenAI chat-completion responses: one `chat.completion`
 * object, or an SSE stream of `chat.completion.chunk`s ending in `data: [DONE]`. Request errors
 * surface before any byte is sent (the first event is awaited first); errors after the stream
 * started are sent as a final `data: {"error": …}` event. Closing the connection cancels the turn.
 */
import { InvariantError } from '../../engine/util/resident-error.js';
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { TurnEvent, TurnResult } from '../chat/types.js';
import { toErrorResponse } from './errors.js';
import { legacyDelta, legacyFinish, legacyMessage } from './legacy-functions.js';

/** Response ids and model name of one completion. */
export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
  /** Answer in the legacy function-calling shape (the request used `functions`). */
  legacy?: boolean;
}

export function newCompletionMeta(model: string, legacy = false): CompletionMeta {
  return { id: `chatcmpl-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000), model, legacy };
}

/** OpenAI usage plus our own fields (`prompt_tokens_details.cached_tokens` = prompt tokens not recomputed). */
export function usageOf(r: TurnResult) {
  const u = r.usage;
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.reused },
    prefilled_tokens: u.prefilled,
    reused_tokens: u.reused,
  };
}

/** Our extension object: the session that ran the turn and problems that did not fail it. */
export const xResident = (r: TurnResult) => ({ session_id: r.sessionId, prefilled_tokens: r.usage.prefilled, reused_tokens: r.usage.reused, warnings: r.warnings });

const finishReason = (r: TurnResult) => (r.finish === 'aborted' ? 'stop' : r.finish);

/** The non-streaming response body. */
export function completionBody(meta: CompletionMeta, r: TurnResult) {
  const message = { ...r.message, content: r.message.content ?? null };
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: meta.legacy ? legacyMessage(message) : message, finish_reason: meta.legacy ? legacyFinish(finishReason(r)) : finishReason(r), logprobs: null }],
    usage: usageOf(r),
    session_id: r.sessionId,
    x_resident: xResident(r),
  };
}

/** Runs the turn to its end and returns the body. */
export async function collectCompletion(meta: CompletionMeta, events: AsyncGenerator<TurnEvent>): Promise<ReturnType<typeof completionBody>> {
  for await (const e of events) if (e.type === 'finish') return completionBody(meta, e.result);
  throw new InvariantError('turn ended without a finish event');
}

const enc = new TextEncoder();
const sse = (data: unknown) => enc.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);

/**
 * An SSE response streaming `events` (whose first event — `start` — was already taken as `first`).
 * `onCancel` runs when the client goes away (it should abort the turn's signal); `onEnd` when the stream ends either way.
 */
export function streamCompletion(meta: CompletionMeta, first: TurnEvent, events: AsyncGenerator<TurnEvent>, includeUsage: boolean, hooks: { onCancel?: () => void; onEnd?: () => void } = {}): Response {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model,
    choices: [{ index: 0, delta: meta.legacy ? legacyDelta(delta) : delta, finish_reason: meta.legacy ? legacyFinish(finish) : finish, logprobs: null }],
  });
  const session = first.type === 'start' ? first.sessionId : undefined;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    async start(ctl) {
      const send = (d: unknown) => {
        if (!closed) ctl.enqueue(sse(d));
      };
      try {
        send({ ...chunk({ role: 'assistant', content: '' }), session_id: session });
        for await (const e of events) {
          if (closed) break;
          switch (e.type) {
            case 'content': send(chunk({ content: e.text })); break;
            case 'reasoning': send(chunk({ reasoning_content: e.text })); break;
            case 'tool_call_start': send(chunk({ tool_calls: [{ index: e.index, id: e.id, type: 'function', function: { name: e.name, arguments: '' } }] })); break;
            case 'tool_call_args': send(chunk({ tool_calls: [{ index: e.index, function: { arguments: e.text } }] })); break;
            case 'finish':
              send(chunk({}, finishReason(e.result)));
              if (includeUsage) send({ id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [], usage: usageOf(e.result) });
              break;
            default: break;
          }
        }
        send('[DONE]');
      } catch (err) {
        send(toErrorResponse(err).body);
      } finally {
        if (!closed) {
          closed = true;
          ctl.close();
        }
        hooks.onEnd?.();
      }
    },
    async cancel() {
      closed = true;
      hooks.onCancel?.();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } });
}

/** Answers a turn: the whole body, or an SSE stream. Errors before the first event are thrown (→ 4xx JSON). */
export async function answerTurn(c: Context, model: string, events: AsyncGenerator<TurnEvent>, stream: boolean, includeUsage: boolean, abort: AbortController, legacy = false): Promise<Response> {
  const meta = newCompletionMeta(model, legacy);
  if (!stream) return c.json(await collectCompletion(meta, events));
  const first = await events.next();
  if (first.done) throw new InvariantError('turn ended before it started');
  return streamCompletion(meta, first.value, events, includeUsage, { onCancel: () => abort.abort() });
}

/** A signal that fires when the client disconnects or `ac` aborts. */
export function requestSignal(c: Context, ac: AbortController): AbortSignal {
  return AbortSignal.any([c.req.raw.signal, ac.signal]);
}
