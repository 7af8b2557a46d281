/**
 * One assistant turn on a session whose turn lock the caller holds:
 *   1. plan (no side effects): encode the new messages after the session's tail with the append
 *      protocol, add the generation prompt, check the KV slot's room, build sampler and grammar
 *      constraint — every request error is thrown here, before anything changes;
 *   2. roll back to the conversation's end (or to `cut`, where the caller's prefix match diverged),
 *      then append messages + generation prompt in one prefill (one span records the message group). On
 *      an empty session, leading system messages form a group of their own (appended first), so
 *      conversations sharing a system prompt can share its K/V (prefix matching cuts at groups). A turn
 *      appending no message keeps the generation prompt already there (the same request sent again);
 *   3. generate: each step samples under the constraint's mask (computed while the forward runs),
 *      each durable token goes through the decoder (detokenizer → stop strings → tool-call parser)
 *      and its events are yielded;
 *   4. close the turn (`<|im_end|>\n`) and record the assistant message with its token range
 *      (which starts at the generation prompt). A turn cancelled through its signal is left open;
 *      the next append cuts it.
 */
import { GrammarStateError } from '../../engine/grammar/errors.js';
import type { TokenConstraint } from '../../engine/grammar/mask/matcher.js';
import type { GrammarVocab } from '../../engine/grammar/mask/vocab.js';
import { Sampler } from '../../engine/decode/sampler.js';
import { AppendProtocolError, MessageFormatError } from '../../engine/tokens/errors.js';
import type { AppendProtocol, AppendResult } from '../../engine/tokens/append-protocol.js';
import type { ChatMessage } from '../../engine/tokens/messages.js';
import type { Tokenizer } from '../../engine/tokens/tokenizer.js';
import type { Session } from '../../sessions/session.js';
import { AsyncQueue } from './async-queue.js';
import { answersJson, callValueTyper, checkCalls, checkJsonAnswer, turnConstraint } from './constraint.js';
import { CHAT_SPAN_VERSION, conversationOf, type ChatSpanMeta, type SessionConversation } from './conversation.js';
import { TurnDecoder } from './decoder.js';
import { ChatRequestError, ContextOverflowError } from './errors.js';
import type { TurnEvent, TurnFinish, TurnOptions, TurnResult, TurnUsage } from './types.js';

/** What a turn needs from its surroundings (shared by every turn of a runner). */
export interface TurnDeps {
  tokenizer: Tokenizer;
  protocol: AppendProtocol;
  vocab: GrammarVocab;
  /** Positions of a KV slot. */
  capacity: number;
  defaultMaxTokens: number;
  /** Sees every finished turn (metrics). */
  onFinish?: (r: TurnResult) => void;
}

/** Encodes `messages` after the conversation's tail (tokenizing in slices: never holds the event loop); request errors become ChatRequestError. */
export async function encodeGroup(protocol: AppendProtocol, conv: SessionConversation, messages: readonly ChatMessage[]): Promise<AppendResult> {
  try {
    return await protocol.appendAsync(conv.tail, messages, { tools: conv.tools, kwargs: conv.kwargs });
  } catch (e) {
    if (e instanceof MessageFormatError || e instanceof AppendProtocolError) throw new ChatRequestError(e.message, 'messages');
    throw e;
  }
}

/** Span of a message group appended at `from`. */
export function groupSpan(messages: readonly ChatMessage[], from: number, enc: AppendResult) {
  const meta: ChatSpanMeta = { chat: CHAT_SPAN_VERSION, kind: 'messages', from, to: from + enc.tokens.length, tail: enc.tail };
  return { role: messages[messages.length - 1]!.role, content: messages, meta: meta as unknown as Record<string, unknown> };
}

/** Cuts tokens past the last recorded group (an unfinished turn). */
export async function settle(session: Session): Promise<SessionConversation> {
  const conv = conversationOf(session);
  if (session.tokens.length > conv.end) await session.truncate(conv.end);
  return conv;
}

interface Plan {
  conv: SessionConversation;
  /** A leading system group appended on its own first (empty sessions only). */
  head?: { tokens: number[]; span: ReturnType<typeof groupSpan> };
  tokens: number[];
  span?: ReturnType<typeof groupSpan>;
  genFrom: number;
  promptTokens: number;
  maxTokens: number;
  constraint: TokenConstraint;
  sampler: Sampler;
  decoder: TurnDecoder;
}

/** Number of leading system/developer messages. */
function leadingSystem(messages: readonly ChatMessage[]): number {
  let k = 0;
  while (k < messages.length && (messages[k]!.role === 'system' || messages[k]!.role === 'developer')) k++;
  return k;
}

async function plan(d: TurnDeps, conv: SessionConversation, messages: readonly ChatMessage[], o: TurnOptions): Promise<Plan> {
  if (messages.length === 0 && conv.end === 0) throw new ChatRequestError('messages must not be empty: the session holds no conversation yet', 'messages');
  let from = conv.end;
  let head: Plan['head'];
  let tail = conv.tail;
  const k = from === 0 ? leadingSystem(messages) : 0;
  if (k > 0 && k < messages.length) {
    const h = await encodeGroup(d.protocol, conv, messages.slice(0, k));
    head = { tokens: h.tokens, span: groupSpan(messages.slice(0, k), 0, h) };
    messages = messages.slice(k);
    from = h.tokens.length;
    tail = h.tail;
  }
  const enc = messages.length ? await encodeGroup(d.protocol, { ...conv, tail }, messages) : undefined;
  const kwargs = conv.kwargs;
  const enableThinking = o.enableThinking ?? (typeof kwargs.enable_thinking === 'boolean' ? kwargs.enable_thinking : undefined);
  const gp = d.protocol.generationPrompt(enc?.tail ?? tail, { tools: conv.tools, kwargs, enableThinking });
  const genFrom = from + (enc?.tokens.length ?? 0);
  const promptTokens = genFrom + gp.tokens.length;
  const reserve = d.protocol.closeAssistantTurn([], { tools: conv.tools, kwargs }).tokens.length;
  const room = d.capacity - promptTokens - reserve;
  if (room < 1) {
    throw new ContextOverflowError(`the context holds ${d.capacity} tokens; the prompt needs ${promptTokens} (plus ${reserve} to close the turn), leaving no room for a completion`, d.capacity, promptTokens + reserve + 1);
  }
  if (o.maxTokens !== undefined && o.maxTokens > room) {
    throw new ContextOverflowError(`the context holds ${d.capacity} tokens; the prompt needs ${promptTokens + reserve} and ${o.maxTokens} completion tokens were requested (at most ${room} fit)`, d.capacity, promptTokens + reserve + o.maxTokens, 'max_tokens');
  }
  const maxTokens = o.maxTokens ?? Math.min(d.defaultMaxTokens, room);
  const thinking = enableThinking !== false;
  const callFormat = d.protocol.template.toolCallFormat; // the registered format the template writes calls in
  const startInReasoning = /<think>\s*$/.test(gp.text);
  const constraint = turnConstraint(d.vocab, conv.tools, o, thinking, { format: callFormat ?? 'hermes', startInReasoning });
  const s = o.sampling ?? {};
  for (const t of s.logitBias?.keys() ?? []) {
    if (t >= d.vocab.size) throw new ChatRequestError(`'logit_bias' names token ${t}, outside the vocabulary of ${d.vocab.size} tokens`, `logit_bias.${t}`);
  }
  let sampler: Sampler;
  try {
    sampler = new Sampler({
      temperature: s.temperature, topP: s.topP, topK: s.topK, minP: s.minP,
      presencePenalty: s.presencePenalty, frequencyPenalty: s.frequencyPenalty, repetitionPenalty: s.repetitionPenalty,
      seed: s.seed ?? Math.floor(Math.random() * 2 ** 32), logitBias: s.logitBias,
    });
  } catch (e) {
    throw new ChatRequestError((e as Error).message, null);
  }
  const decoder = new TurnDecoder(d.tokenizer, { stop: o.stop, tools: conv.tools, format: callFormat, startInReasoning, idFactory: o.idFactory, xmlValues: callFormat?.grammarValueTyping ? callValueTyper(conv.tools, callFormat) : undefined });
  return {
    conv, head, tokens: [...(enc?.tokens ?? []), ...gp.tokens], span: enc && groupSpan(messages, from, enc),
    genFrom, promptTokens, maxTokens, constraint, sampler, decoder,
  };
}

/**
 * Runs one assistant turn (the caller holds the session's turn lock): appends `messages` (one
 * group, may be empty), generates, closes the turn. Yields `start`, text / tool-call events, then
 * `finish`. Request errors throw from the first `next()`, before the session changes. Leaving
 * the iteration early cancels the generation and waits for it to stop.
 */
export async function* runTurn(d: TurnDeps, session: Session, messages: readonly ChatMessage[], o: TurnOptions = {}, cut?: number): AsyncGenerator<TurnEvent, void, undefined> {
  const t0 = performance.now();
  let tFirst: number | null = null;
  const timing = () => ({ firstTokenMs: tFirst === null ? null : tFirst - t0, totalMs: performance.now() - t0 });
  const p = await plan(d, conversationOf(session, cut), messages, o);
  // Roll back to the conversation's end; a turn that appends no message (the same request again) keeps the
  // generation prompt the session already holds there: the answer starts from the K/V the first one did.
  const end = p.conv.end;
  const kept = p.head || p.span ? 0 : commonPrefix(session.tokens, end, p.tokens);
  if (session.tokens.length > end + kept) await session.truncate(end + kept);
  const head = p.head ? (await session.appendTokens(p.head.tokens, { message: p.head.span, signal: o.signal, priority: o.priority })).prefilled : 0;
  const rest = p.tokens.slice(kept);
  const appended = rest.length ? (await session.appendTokens(rest, { message: p.span, signal: o.signal, priority: o.priority })).prefilled : 0;
  const prefilled = head + appended;
  const usage: TurnUsage = { promptTokens: p.promptTokens, prefilled, reused: Math.max(0, p.promptTokens - prefilled), completionTokens: 0 };

  // Generation starts before `start` is yielded: the first token is sampled while the consumer sets up its
  // response (a consumer that leaves at `start` still stops it, in the finally below).
  const queue = new AsyncQueue<TurnEvent>();
  const stopper = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stopper.signal]) : stopper.signal;
  const single = o.parallelToolCalls === false;
  let pending: Uint32Array | null = null;
  const run = session.generate({
    maxTokens: p.maxTokens,
    stop: o.stop,
    signal,
    priority: o.priority,
    prepare: () => void (pending = p.constraint.mask()),
    sample: (row) => {
      const mask = pending ?? p.constraint.mask();
      pending = null;
      const t = p.sampler.sample(row, { mask });
      if (!p.constraint.accept(t)) throw new GrammarStateError(`the constraint refused token ${t} that its own mask allowed`);
      return t;
    },
    onToken: (t) => {
      tFirst ??= performance.now();
      for (const e of p.decoder.push(t)) queue.push(e as TurnEvent);
      if (p.decoder.stopped || (single && p.decoder.out.toolCalls.length > 0)) stopper.abort();
    },
  });
  run.then(() => queue.end(), (e) => queue.end(e));
  let finished = false;
  try {
    yield { type: 'start', sessionId: session.id, promptTokens: usage.promptTokens, prefilled: usage.prefilled, reused: usage.reused };
    for await (const e of queue) yield e;
    const r = await run;
    for (const e of p.decoder.finish()) yield e as TurnEvent;
    const out = p.decoder.out;
    const cancelled = r.finish === 'aborted' && !!o.signal?.aborted;
    const finish: TurnFinish = cancelled ? 'aborted' : r.finish === 'length' ? 'length' : out.toolCalls.length ? 'tool_calls' : 'stop';
    const message: TurnResult['message'] = { role: 'assistant', content: out.content === '' && out.toolCalls.length ? null : out.content };
    if (out.reasoning) message.reasoning_content = out.reasoning;
    // A call cut by max_tokens is reported as it stands (as OpenAI does), after the complete ones.
    const cut = finish === 'length' ? out.unfinished.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.argumentsText } })) : [];
    const calls = [...out.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.argumentsJson } })), ...cut];
    if (calls.length) message.tool_calls = calls;
    if (out.content === '' && calls.length) message.content = null;
    const warnings = out.errors.map((e) => `tool call ${e.index}: ${e.message}`);
    if (finish === 'stop' || finish === 'tool_calls') {
      warnings.push(...checkCalls(p.conv.tools, out.toolCalls));
      if (answersJson(p.conv.tools, o)) warnings.push(...checkJsonAnswer(o, out.content));
    }
    if (!cancelled) await closeTurn(d, session, p, message, finish, r.tokens);
    const result: TurnResult = { sessionId: session.id, finish, message, toolCalls: out.toolCalls, usage: { ...usage, completionTokens: r.tokens.length }, tokens: r.tokens, warnings, end: cancelled ? undefined : session.tokens.length, stopString: finish === 'stop' ? p.decoder.stopString : undefined, timing: timing() };
    d.onFinish?.(result);
    finished = true;
    yield { type: 'finish', result };
  } finally {
    if (!finished) {
      // The consumer left (or the turn failed): stop generating; an abandoned turn still counts.
      stopper.abort();
      const r = await run.catch(() => null);
      if (r) {
        const message: TurnResult['message'] = { role: 'assistant', content: p.decoder.out.content };
        d.onFinish?.({ sessionId: session.id, finish: 'aborted', message, toolCalls: p.decoder.out.toolCalls, usage: { ...usage, completionTokens: r.tokens.length }, tokens: r.tokens, warnings: [], timing: timing() });
      }
    }
  }
}

/** How many of `tokens` the session holds from position `at` on. */
function commonPrefix(have: readonly number[], at: number, tokens: readonly number[]): number {
  let n = 0;
  while (n < tokens.length && at + n < have.length && have[at + n] === tokens[n]) n++;
  return n;
}

/** Appends the closing tokens and records the assistant message over [generation prompt, end). */
async function closeTurn(d: TurnDeps, session: Session, p: Plan, message: ChatMessage, finish: TurnFinish, generated: number[]): Promise<void> {
  const closing = d.protocol.closeAssistantTurn(generated, { tools: p.conv.tools, kwargs: p.conv.kwargs });
  const to = session.tokens.length + closing.tokens.length;
  const meta: ChatSpanMeta = { chat: CHAT_SPAN_VERSION, kind: 'assistant', from: p.genFrom, to, tail: 'assistant', finish };
  await session.appendTokens(closing.tokens, { message: { role: 'assistant', content: [message], meta: meta as unknown as Record<string, unknown> }, logits: false });
}

/** Runs a turn to the end and returns its result (for callers that do not stream). */
export async function collectTurn(events: AsyncIterable<TurnEvent>): Promise<TurnResult> {
  for await (const e of events) if (e.type === 'finish') return e.result;
  throw new Error('turn ended without a finish event');
}
