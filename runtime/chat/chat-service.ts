/**
 * Stateless chat completions over resident sessions. Clients resend the whole history each turn;
 * no id is needed to reuse its K/V: recent anonymous sessions are kept in an index and the one
 * sharing the longest message-level prefix with the request (engine/tokens/prefix-match.ts) is
 * rolled back to the divergence point, so only the rest is appended and prefilled. A rollback
 * that drops only the last exchange (a regenerated answer, an edited last question) happens in
 * place; one that would drop more, or keep only the system prompt (another conversation sharing
 * it), forks the session at that point instead (K/V copied), so both branches stay reusable.
 * A session in use by another request is not a candidate (the request would wait for that turn).
 *
 * `sessionName` binds a request to a named persistent session instead: it is created on first use
 * and follows the client's history (rolled back in place), never evicted by the index.
 * `ownOrigin` runs on a new session kept by its caller (stored Responses); `continueAt` continues a
 * conversation a stateful API left at a known point (previous_response_id). Every surface (chat
 * completions, Responses, Messages) runs its turns through this service.
 */
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import { matchPrefix, type PrefixMatch } from '../../engine/tokens/prefix-match.js';
import type { Session } from '../../sessions/session.js';
import { conversationOf, type SessionConversation } from './conversation.js';
import { ChatRequestError } from './errors.js';
import type { ChatRunner } from './runner.js';
import { LOCAL_TENANT, type Tenant } from '../tenants/tenant.js';
import { namedSession, ownerOf, sees } from '../tenants/visibility.js';
import type { TurnEvent, TurnOptions } from './types.js';

/** A chat-completions request as the service sees it. */
export interface CompletionRequest {
  /** The full history (system/developer/user/assistant/tool). */
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  /** chat_template_kwargs; `enable_thinking` applies to this turn's generation prompt only. */
  kwargs?: Record<string, unknown>;
  /** Binds the request to a named persistent session (the `session_id` extension). */
  sessionName?: string;
  /** Runs on a new session of this origin, kept until deleted (not indexed, never evicted), instead of the reuse index. */
  ownOrigin?: string;
  /** The tenant the request acts as (default LOCAL_TENANT): it owns new sessions; only its own sessions are reused. */
  tenant?: Tenant;
}

/** Where a stateful API left a conversation: the session and the token position its conversation ended at. */
export interface ConversationPoint {
  sessionId: string;
  end: number;
}

export interface ChatServiceOptions {
  /** Anonymous sessions kept for reuse (least recently used beyond this are deleted). */
  maxSessions: number;
  onWarning?: (message: string) => void;
}

/** How a request was placed (for logs and tests). */
export interface Placement {
  session: Session;
  how: 'new' | 'continued' | 'rolled-back' | 'forked' | 'named-new' | 'named';
  match?: PrefixMatch;
}

const ORIGIN_CHAT = 'chat-completions';

type Incoming = { messages: ChatMessage[]; tools: ToolDefinition[]; kwargs: Record<string, unknown>; tenant: Tenant };
/** A placed turn: its session (locked), the lock's release, and the messages to append there. */
interface Placed {
  placement: Placement;
  release: () => void;
  append: ChatMessage[];
  /** Where the session is rolled back to (a group end), by the turn itself (runTurn's `cut`). */
  cut?: number;
}
const ORIGIN_NAMED = 'named';
/** Most recently used sessions of a caller's own origin searched for a shared prefix. */
const OWN_CANDIDATES = 64;

export class ChatService {
  /** Anonymous session ids, least recently used first. */
  private index = new Map<string, true>();

  constructor(readonly runner: ChatRunner, readonly opts: ChatServiceOptions) {
    const own = runner.store.list().filter((s) => s.state.settings.origin === ORIGIN_CHAT);
    for (const s of own.sort((a, b) => a.state.lastUsedAt - b.state.lastUsedAt)) this.index.set(s.id, true);
  }

  /** Number of anonymous sessions held for reuse. */
  get size(): number {
    return this.index.size;
  }

  /** A named session `tenant` sees (its own first; runtime/tenants/visibility.ts), or undefined. */
  findNamed(name: string, tenant: Tenant = LOCAL_TENANT): Session | undefined {
    return namedSession(this.runner.store.list(), tenant, name);
  }

  /**
   * Runs one completion: places the request on a session (see the module comment), appends what
   * the session lacks and generates. Yields the turn's events; `placed` (if given) learns where it ran.
   */
  async *complete(req: CompletionRequest, o: TurnOptions = {}, placed?: (p: Placement) => void): AsyncGenerator<TurnEvent, void, undefined> {
    if (!Array.isArray(req.messages) || req.messages.length === 0) throw new ChatRequestError('messages must be a non-empty array', 'messages');
    const { enable_thinking, ...kwargs } = req.kwargs ?? {};
    const turn: TurnOptions = { ...o, enableThinking: o.enableThinking ?? (typeof enable_thinking === 'boolean' ? enable_thinking : undefined) };
    const incoming = { messages: req.messages, tools: req.tools ?? [], kwargs, tenant: req.tenant ?? LOCAL_TENANT };
    const p = req.sessionName !== undefined ? await this.placeNamed(req.sessionName, incoming)
      : req.ownOrigin !== undefined ? await this.placeOwn(req.ownOrigin, incoming)
      : await this.placeAnonymous(incoming);
    yield* this.run(p, turn, placed, req.sessionName === undefined && req.ownOrigin === undefined);
  }

  /**
   * Continues the conversation a stateful API left at `from` with `req.messages` (only the new
   * ones): in place when the session still ends there, on a fork at `from` when it moved on (another
   * branch continued it). Undefined when it cannot (session gone or cut below `from`, other tools
   * or template kwargs): the caller then resends the whole history on a new session.
   */
  async continueAt(from: ConversationPoint, req: CompletionRequest, o: TurnOptions = {}): Promise<AsyncGenerator<TurnEvent, void, undefined> | undefined> {
    const { enable_thinking, ...kwargs } = req.kwargs ?? {};
    const turn: TurnOptions = { ...o, enableThinking: o.enableThinking ?? (typeof enable_thinking === 'boolean' ? enable_thinking : undefined) };
    let session: Session;
    try {
      session = this.runner.store.get(from.sessionId);
    } catch {
      return undefined;
    }
    if (!sees(req.tenant ?? LOCAL_TENANT, session)) return undefined;
    const release = await this.runner.locks.acquire(session.id);
    try {
      const conv = conversationOf(session);
      const boundary = conv.groups.some((g) => g.meta.to === from.end);
      const same = JSON.stringify(conv.tools) === JSON.stringify(req.tools ?? []) && JSON.stringify(conv.kwargs) === JSON.stringify(kwargs);
      if (!boundary || !same || session.tokens.length < from.end) {
        release();
        return undefined;
      }
      if (conv.end === from.end) return this.run({ placement: { session, how: 'continued' }, release, append: req.messages }, turn);
      const child = await this.runner.store.fork(session.id, { at: from.end });
      await child.setMeta({ settings: { ...child.state.settings, origin: session.state.settings.origin } });
      release();
      const releaseChild = await this.runner.locks.acquire(child.id);
      return this.run({ placement: { session: child, how: 'forked' }, release: releaseChild, append: req.messages }, turn);
    } catch (e) {
      release();
      throw e;
    }
  }

  private async *run(p: Placed, turn: TurnOptions, placed?: (p: Placement) => void, indexed = false): AsyncGenerator<TurnEvent, void, undefined> {
    try {
      placed?.(p.placement);
      yield* this.runner.turnLocked(p.placement.session, p.append, turn, p.cut);
    } finally {
      p.release();
      if (indexed) void this.evict();
    }
  }

  /**
   * A new session kept by the caller, starting from the longest stored prefix: a session of the
   * same origin that the request merely continues is continued in place (what it held stays
   * valid); any other match (an anonymous session, or a divergence) is forked at the match point.
   */
  private async placeOwn(origin: string, incoming: Incoming): Promise<Placed> {
    const own = this.runner.store.list().filter((s) => s.state.settings.origin === origin && ownerOf(s) === incoming.tenant.id).sort((a, b) => b.state.lastUsedAt - a.state.lastUsedAt).slice(0, OWN_CANDIDATES);
    const best = this.bestMatch([...[...this.index.keys()].reverse(), ...own.map((s) => s.id)], incoming);
    if (!best) {
      const session = await this.runner.createSession({ tools: incoming.tools, kwargs: incoming.kwargs, settings: { origin }, tenant: incoming.tenant.id });
      const release = await this.runner.locks.acquire(session.id);
      return { placement: { session, how: 'new' }, release, append: incoming.messages };
    }
    const { session, match, conv } = best;
    const release = await this.runner.locks.acquire(session.id); // free: checked above, acquired in the same tick
    try {
      if (session.state.settings.origin === origin && match.keepTokens === conv.end) return { placement: { session, how: 'continued', match }, release, append: match.append };
      const child = await this.runner.store.fork(session.id, { at: match.keepTokens });
      await child.setMeta({ settings: { ...child.state.settings, origin } });
      release();
      const releaseChild = await this.runner.locks.acquire(child.id);
      return { placement: { session: child, how: 'forked', match }, release: releaseChild, append: match.append };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** The idle session among `ids` of the request's tenant sharing the longest prefix with it (at least one token), or undefined. */
  private bestMatch(ids: Iterable<string>, incoming: Incoming): { session: Session; match: PrefixMatch; conv: SessionConversation } | undefined {
    let best: { session: Session; match: PrefixMatch; conv: SessionConversation } | undefined;
    for (const id of ids) {
      if (this.runner.locks.isLocked(id)) continue;
      let session: Session;
      try {
        session = this.runner.store.get(id);
      } catch {
        this.index.delete(id);
        continue;
      }
      if (ownerOf(session) !== incoming.tenant.id) continue; // never another tenant's K/V (nor its fork's owner)
      const conv = conversationOf(session);
      const match = matchPrefix(conv, incoming);
      if (match.keepTokens > 0 && (!best || match.keepTokens > best.match.keepTokens)) best = { session, match, conv };
    }
    return best;
  }

  private async placeNamed(name: string, incoming: Incoming): Promise<Placed> {
    if (!/^[\w.:@-]{1,128}$/.test(name)) throw new ChatRequestError('session_id may hold letters, digits and . _ : @ - (1..128 characters)', 'session_id');
    let session = this.findNamed(name, incoming.tenant);
    let how: Placement['how'] = 'named';
    if (!session) {
      session = await this.runner.createSession({ tools: incoming.tools, kwargs: incoming.kwargs, settings: { name, origin: ORIGIN_NAMED }, tenant: incoming.tenant.id });
      how = 'named-new';
    }
    const release = await this.runner.locks.acquire(session.id);
    try {
      const conv = conversationOf(session);
      const match = matchPrefix(conv, incoming);
      if (match.keepTokens === 0 && (match.divergence?.reason === 'tool list differs' || match.divergence?.reason === 'template kwargs differ')) {
        await session.truncate(0);
        await session.setMeta({ tools: incoming.tools, settings: { ...session.state.settings, kwargs: incoming.kwargs } });
        return { placement: { session, how, match }, release, append: match.append };
      }
      return { placement: { session, how, match }, release, append: match.append, cut: match.keepTokens };
    } catch (e) {
      release();
      throw e;
    }
  }

  private async placeAnonymous(incoming: Incoming): Promise<Placed> {
    const store = this.runner.store;
    const found = this.bestMatch([...this.index.keys()].reverse(), incoming);
    if (!found) {
      const session = await this.runner.createSession({ tools: incoming.tools, kwargs: incoming.kwargs, settings: { origin: ORIGIN_CHAT }, tenant: incoming.tenant.id });
      const release = await this.runner.locks.acquire(session.id);
      this.touch(session.id);
      return { placement: { session, how: 'new' as const }, release, append: incoming.messages };
    }
    const { session, match, conv } = found;
    // Message groups (not assistant turns) the rollback would drop; whether only the system prompt is shared.
    const dropped = conv.groups.filter((g) => g.meta.from >= match.keepTokens && g.meta.kind !== 'assistant').length;
    const onlySystem = !!match.divergence && match.append.length > 0 && conv.messages.slice(0, match.keepMessages).every((m) => m.message.role === 'system' || m.message.role === 'developer');
    const release = await this.runner.locks.acquire(session.id); // free: checked above, acquired in the same tick
    try {
      if (dropped > 1 || onlySystem) {
        const child = await store.fork(session.id, { at: match.keepTokens });
        release();
        const releaseChild = await this.runner.locks.acquire(child.id);
        this.touch(session.id);
        this.touch(child.id);
        return { placement: { session: child, how: 'forked' as const, match }, release: releaseChild, append: match.append };
      }
      this.touch(session.id);
      return { placement: { session, how: match.divergence ? ('rolled-back' as const) : ('continued' as const), match }, release, append: match.append, cut: match.keepTokens };
    } catch (e) {
      release();
      throw e;
    }
  }

  private touch(id: string): void {
    this.index.delete(id);
    this.index.set(id, true);
  }

  /** Deletes least recently used idle anonymous sessions beyond the limit. */
  private async evict(): Promise<void> {
    for (const id of this.index.keys()) {
      if (this.index.size <= this.opts.maxSessions) return;
      if (this.runner.locks.isLocked(id)) continue;
      this.index.delete(id);
      try {
        await this.runner.store.delete(id);
      } catch (e) {
        this.opts.onWarning?.(`could not delete chat session ${id}: ${(e as Error).message}`);
      }
    }
  }
}
