/**
 * The assistant-turn runner: the reusable core behind `/v1/chat/completions`, the session API,
 * the agent loop and the MCP server. It owns per-session turn locks (a turn — append, generate,
 * close — never interleaves with another operation of the chat layer on the same session) and
 * exposes message-level operations over sessions whose history it records (see conversation.ts).
 *
 * Typical agent-loop use:
 *   const s = await runner.createSession({ tools, kwargs: {} });
 *   let r = await runner.complete(s, [{ role: 'system', … }, { role: 'user', … }], { toolChoice: 'auto' });
 *   while (r.finish === 'tool_calls') r = await runner.complete(s, toolResults(r.toolCalls));
 * Streaming callers iterate `runner.turn(...)` instead and forward the events.
 */
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import type { Session } from '../../sessions/session.js';
import type { SessionStore } from '../../sessions/store.js';
import { CHAT_SPAN_VERSION, conversationOf, groupStartOf, type ChatSpanMeta } from './conversation.js';
import { ChatRequestError, ContextOverflowError } from './errors.js';
import { SessionLocks } from './session-locks.js';
import { DEFAULT_TENANT_ID, TENANT_SETTING } from '../tenants/tenant.js';
import { collectTurn, encodeGroup, groupSpan, runTurn, settle, type TurnDeps } from './turn.js';
import type { AppendReport, TurnEvent, TurnOptions, TurnResult } from './types.js';

/** Options of a new chat session. */
export interface ChatSessionOptions {
  /** Tools rendered in the system prompt; fixed for the session's life. */
  tools?: ToolDefinition[];
  /** Template kwargs used for every append (e.g. custom template variables). */
  kwargs?: Record<string, unknown>;
  /** Extra settings stored with the session (name, origin…). */
  settings?: Record<string, unknown>;
  pinned?: boolean;
  /** The owning tenant's id (`settings.tenant`; default `default`, runtime/tenants/tenant.ts). */
  tenant?: string;
}

export class ChatRunner {
  readonly locks = new SessionLocks();
  /** Called before a session grows (append, turn, edit); throws to refuse (a tenant's kv_bytes limit). */
  admit?: (session: Session) => void;

  constructor(readonly store: SessionStore, readonly deps: TurnDeps) {}

  /** Creates an empty session carrying the conversation settings. */
  createSession(o: ChatSessionOptions = {}): Promise<Session> {
    return this.store.create({ tools: o.tools ?? [], settings: { ...o.settings, kwargs: o.kwargs ?? {}, [TENANT_SETTING]: o.tenant ?? DEFAULT_TENANT_ID }, pinned: o.pinned });
  }

  /** Runs `fn` holding the session's turn lock. */
  async locked<T>(session: Session, fn: () => Promise<T>): Promise<T> {
    const release = await this.locks.acquire(session.id);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * One assistant turn: appends `messages` (one group; may be empty to answer the history as is),
   * generates and closes the turn. See runTurn for the event order and error behaviour.
   */
  async *turn(session: Session, messages: readonly ChatMessage[], o: TurnOptions = {}): AsyncGenerator<TurnEvent, void, undefined> {
    this.admit?.(session);
    const release = await this.locks.acquire(session.id);
    try {
      yield* runTurn(this.deps, session, messages, o);
    } finally {
      release();
    }
  }

  /** Like turn(), for a caller that already holds the session's lock (see locked()). */
  turnLocked(session: Session, messages: readonly ChatMessage[], o: TurnOptions = {}, cut?: number): AsyncGenerator<TurnEvent, void, undefined> {
    this.admit?.(session);
    return runTurn(this.deps, session, messages, o, cut);
  }

  /** Runs a turn to its end. */
  complete(session: Session, messages: readonly ChatMessage[], o: TurnOptions = {}): Promise<TurnResult> {
    return collectTurn(this.turn(session, messages, o));
  }

  /** Appends messages as one group without generating (e.g. a system prompt, or context for later). */
  appendMessages(session: Session, messages: readonly ChatMessage[], o: { signal?: AbortSignal } = {}): Promise<AppendReport> {
    if (messages.length === 0) throw new ChatRequestError('messages must not be empty', 'messages');
    this.admit?.(session);
    return this.locked(session, async () => {
      const conv = await settle(session);
      const enc = await encodeGroup(this.deps.protocol, conv, messages);
      this.checkRoom(conv.end + enc.tokens.length);
      const r = await session.appendTokens(enc.tokens, { message: groupSpan(messages, conv.end, enc), signal: o.signal });
      return { sessionId: session.id, tokens: enc.tokens.length, prefilled: r.prefilled, tokenCount: r.tokenCount, firstMessage: conv.messages.length };
    });
  }

  /** Appends a raw document (no chat framing; special-token text stays plain). */
  appendDocument(session: Session, text: string, o: { signal?: AbortSignal } = {}): Promise<AppendReport> {
    this.admit?.(session);
    return this.locked(session, async () => {
      const conv = await settle(session);
      const enc = await this.deps.protocol.appendRawAsync(conv.tail, text);
      if (enc.tokens.length === 0) throw new ChatRequestError('the document is empty', 'document');
      this.checkRoom(conv.end + enc.tokens.length);
      const meta: ChatSpanMeta = { chat: CHAT_SPAN_VERSION, kind: 'document', from: conv.end, to: conv.end + enc.tokens.length, tail: conv.tail };
      const r = await session.appendTokens(enc.tokens, { message: { role: 'document', content: text, meta: meta as unknown as Record<string, unknown> }, signal: o.signal });
      return { sessionId: session.id, tokens: enc.tokens.length, prefilled: r.prefilled, tokenCount: r.tokenCount, firstMessage: conv.messages.length };
    });
  }

  /**
   * Rolls back to just before message `k`: the K/V before it is kept. Messages appended in the same
   * group as `k` but before it go too (a group is one unit); returns how many messages remain.
   */
  rollback(session: Session, k: number): Promise<{ messages: number; tokenCount: number }> {
    return this.locked(session, async () => {
      const conv = await settle(session);
      this.checkIndex(k, conv.messages.length, true);
      const g = groupStartOf(conv, k);
      await session.truncate(g.from);
      return { messages: g.firstMessage, tokenCount: session.tokens.length };
    });
  }

  /**
   * Replaces message `k`: rolls back to the start of its group and re-appends the group's messages
   * from there (with `k` replaced) and every later message, as one group. Only tokens from that
   * group on are recomputed.
   */
  editMessage(session: Session, k: number, message: ChatMessage): Promise<AppendReport> {
    this.admit?.(session);
    return this.locked(session, async () => {
      const conv = await settle(session);
      this.checkIndex(k, conv.messages.length, false);
      const g = groupStartOf(conv, k);
      const after = conv.messages.slice(g.firstMessage).map((m, i) => (g.firstMessage + i === k ? message : m.message));
      if (after.some((m) => (m.role as string) === 'document')) throw new ChatRequestError('cannot edit across a raw document; roll back instead', 'message');
      const kept = { ...conv, groups: [], messages: conv.messages.slice(0, g.firstMessage), end: g.from, tail: g.firstMessage === 0 ? ('empty' as const) : conv.groups.find((x) => x.meta.to === g.from)?.meta.tail ?? 'empty' };
      const enc = await encodeGroup(this.deps.protocol, kept, after);
      this.checkRoom(g.from + enc.tokens.length);
      await session.truncate(g.from);
      const r = await session.appendTokens(enc.tokens, { message: groupSpan(after, g.from, enc) });
      return { sessionId: session.id, tokens: enc.tokens.length, prefilled: r.prefilled, tokenCount: r.tokenCount, firstMessage: g.firstMessage };
    });
  }

  /** A new session sharing the history before message `k` (default: all of it); K/V is copied, not recomputed. */
  async fork(session: Session, k?: number, settings?: Record<string, unknown>): Promise<Session> {
    const child = await this.locked(session, async () => {
      const conv = await settle(session);
      if (k !== undefined) this.checkIndex(k, conv.messages.length, true);
      const at = k === undefined ? conv.end : groupStartOf(conv, k).from;
      return this.store.fork(session.id, { at });
    });
    if (settings) await child.setMeta({ settings: { ...child.state.settings, ...settings } });
    return child;
  }

  /** The session's conversation as chat messages. */
  messages(session: Session): ChatMessage[] {
    return conversationOf(session).messages.map((m) => m.message);
  }

  private checkRoom(need: number): void {
    if (need > this.deps.capacity) throw new ContextOverflowError(`the context holds ${this.deps.capacity} tokens; this append needs ${need}`, this.deps.capacity, need);
  }

  private checkIndex(k: number, n: number, endOk: boolean): void {
    if (!Number.isInteger(k) || k < 0 || k > n || (!endOk && k === n)) {
      throw new ChatRequestError(`message index ${k} is out of range: the session has ${n} messages`, 'message');
    }
  }
}
