/**
 * How the chat layer records a conversation inside a session, and how it reads it back.
 *
 * Every append call of the chat layer writes one message span (sessions/session-state.ts) whose
 * `meta` is a {@link ChatSpanMeta}: the token range [from, to) of the append group (what
 * prefix matching rolls back to), the append protocol's {@link Tail} after it, and the kind.
 * `content` holds the group's ChatMessages (or the document text). The session's own span range
 * may differ from [from, to) (an assistant turn is recorded when it closes, its range starts at
 * its generation prompt; a group's span also covers the generation prompt appended with it):
 * `meta.from/to` is the truth.
 *
 * Conversation settings live in the session: `state.tools` (rendered in the system prompt, fixed
 * for the session's life) and `settings.kwargs` (template kwargs other than prompt-only ones).
 * Tokens past the last recorded group (an unfinished or aborted assistant turn) are dangling and
 * are cut before the next append.
 */
import type { Tail } from '../../engine/tokens/append-protocol.js';
import type { ChatMessage, ToolDefinition } from '../../engine/tokens/messages.js';
import type { StoredConversation, StoredMessage } from '../../engine/tokens/prefix-match.js';
import type { Session } from '../../sessions/session.js';

/** Version tag of the span layout (bumped if ChatSpanMeta changes incompatibly). */
export const CHAT_SPAN_VERSION = 1;

/** `meta` of a span written by the chat layer. */
export interface ChatSpanMeta {
  chat: typeof CHAT_SPAN_VERSION;
  kind: 'messages' | 'assistant' | 'document';
  /** Token range of the group: where a rollback to its first message cuts, and where it ends. */
  from: number;
  to: number;
  /** Append-protocol tail after the group. */
  tail: Tail;
  /** Assistant turns: how generation ended. */
  finish?: string;
}

/** Role used for raw documents in the stored conversation (never equal to a chat role, so a request without it diverges there). */
export const DOCUMENT_ROLE = 'document';

/** One recorded group. */
export interface ChatGroup {
  meta: ChatSpanMeta;
  /** Messages of the group (a document is one message with role {@link DOCUMENT_ROLE}). */
  messages: ChatMessage[];
}

/** What a session holds, as the chat layer sees it. */
export interface SessionConversation extends StoredConversation {
  groups: ChatGroup[];
  messages: StoredMessage[];
  tools: ToolDefinition[];
  kwargs: Record<string, unknown>;
  /** Tail after the last group ('empty' for none). */
  tail: Tail;
  /** End of the last group: tokens past it are dangling. */
  end: number;
}

function isChatMeta(m: unknown): m is ChatSpanMeta {
  const x = m as ChatSpanMeta | undefined;
  return !!x && x.chat === CHAT_SPAN_VERSION && typeof x.from === 'number' && typeof x.to === 'number' && typeof x.tail === 'string';
}

/** Template kwargs stored in a session's settings. */
export function sessionKwargs(s: Session): Record<string, unknown> {
  const k = s.state.settings.kwargs;
  return k !== null && typeof k === 'object' && !Array.isArray(k) ? (k as Record<string, unknown>) : {};
}

/**
 * Reads the conversation recorded in a session. Groups past the session's tokens (cut by a raw truncate) are
 * ignored, and so are groups past `upTo` (the conversation as a rollback to `upTo` would leave it).
 */
export function conversationOf(s: Session, upTo = Infinity): SessionConversation {
  const groups: ChatGroup[] = [];
  const len = Math.min(s.state.tokens.length, upTo);
  let end = 0;
  for (const span of s.state.messages) {
    const meta = span.meta;
    if (!isChatMeta(meta)) continue;
    if (meta.to > len || meta.from < end) break; // cut or out of order: nothing after it is reliable
    const messages = meta.kind === 'document'
      ? [{ role: DOCUMENT_ROLE, content: String(span.content ?? '') } as unknown as ChatMessage]
      : Array.isArray(span.content) ? (span.content as ChatMessage[]) : [];
    groups.push({ meta, messages });
    end = meta.to;
  }
  const messages: StoredMessage[] = [];
  for (const g of groups) for (const m of g.messages) messages.push({ message: m, start: g.meta.from, end: g.meta.to });
  return {
    groups,
    messages,
    tools: (s.state.tools ?? []) as ToolDefinition[],
    kwargs: sessionKwargs(s),
    tail: groups.length ? groups[groups.length - 1]!.meta.tail : 'empty',
    end,
  };
}

/** The conversation's chat messages in order (documents included with role 'document'). */
export function chatMessagesOf(s: Session): ChatMessage[] {
  return conversationOf(s).messages.map((m) => m.message);
}

/** Token position where a rollback to just before message `k` cuts: the start of its group. */
export function groupStartOf(conv: SessionConversation, k: number): { from: number; firstMessage: number } {
  let idx = 0;
  for (const g of conv.groups) {
    if (k < idx + g.messages.length) return { from: g.meta.from, firstMessage: idx };
    idx += g.messages.length;
  }
  return { from: conv.end, firstMessage: idx };
}
