/**
 * Message-level prefix matching for clients that resend the whole conversation every turn.
 *
 * A stored session knows its messages and the token range each occupies in the KV history.
 * Messages appended in one call share one range (their framing is rendered jointly), so a rollback
 * into such a group restarts at the group's first message. Assistant turns the model generated are
 * compared semantically with what the client resends: content without the think block, tool calls
 * by name and parsed arguments — never by re-rendering.
 */
import { contentText, parseArguments, splitReasoning, type ChatMessage, type ToolDefinition } from './messages.js';

/**
 * One stored message and the token range [start, end) of the append group that holds it. Messages
 * appended in one call share a range; an assistant message's range starts at its generation prompt
 * (append new messages and the generation prompt as two calls, so a rollback to an assistant turn
 * keeps the messages before it).
 */
export interface StoredMessage {
  message: ChatMessage;
  start: number;
  end: number;
}

/** A stored session as the matcher needs it. */
export interface StoredConversation {
  messages: readonly StoredMessage[];
  tools?: readonly ToolDefinition[];
  /** Template kwargs the history was rendered with. */
  kwargs?: Readonly<Record<string, unknown>>;
}

/** An incoming request. */
export interface IncomingConversation {
  messages: readonly ChatMessage[];
  tools?: readonly ToolDefinition[];
  kwargs?: Readonly<Record<string, unknown>>;
}

export interface PrefixMatch {
  /** Number of leading incoming messages whose tokens can be kept as they are. */
  keepMessages: number;
  /** Number of history tokens to keep (roll the KV slot back to this length). */
  keepTokens: number;
  /** Incoming messages to append after the kept tokens (incoming.messages.slice(keepMessages)). */
  append: ChatMessage[];
  /** First incoming message that differs from the stored session, and why; absent when the stored session is a prefix of the incoming one. */
  divergence?: { index: number; reason: string };
}

export interface PrefixMatchOptions {
  /** Kwargs that only change the generation prompt, not rendered history; ignored when comparing. Default `['enable_thinking']`. */
  promptOnlyKwargs?: readonly string[];
}

/**
 * Canonical JSON (object keys sorted, undefined members dropped) for order-insensitive deep
 * comparison. Iterative (an explicit stack): stored sessions of any depth compare without
 * overflowing the call stack.
 */
export function canonicalJson(v: unknown): string {
  const out: string[] = [];
  // Work items: a value to write, or a literal piece of text (separators, closing brackets).
  const stack: Array<{ value: unknown } | string> = [{ value: v }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const x = item.value;
    if (Array.isArray(x)) {
      out.push('[');
      stack.push(']');
      for (let i = x.length - 1; i >= 0; i--) {
        stack.push({ value: x[i] });
        if (i > 0) stack.push(',');
      }
    } else if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
      out.push('{');
      stack.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: o[keys[i]!] });
        stack.push(`${JSON.stringify(keys[i])}:`);
        if (i > 0) stack.push(',');
      }
    } else out.push(JSON.stringify(x) ?? 'null');
  }
  return out.join('');
}

const roleOf = (m: ChatMessage) => (m.role === 'developer' ? 'system' : m.role);

/** Why two messages differ semantically, or undefined if they are the same turn. */
export function messageDifference(stored: ChatMessage, incoming: ChatMessage): string | undefined {
  if (roleOf(stored) !== roleOf(incoming)) return `role differs (${stored.role} stored, ${incoming.role} sent)`;
  if ((stored.name ?? '') !== (incoming.name ?? '')) return 'name differs';
  const a = contentText(stored.content);
  const b = contentText(incoming.content);
  if (stored.role !== 'assistant') {
    if (a !== b) return 'content differs';
    if (stored.role === 'tool' && stored.tool_call_id !== undefined && incoming.tool_call_id !== undefined && stored.tool_call_id !== incoming.tool_call_id) return 'tool_call_id differs';
    return undefined;
  }
  if (splitReasoning(a).content.trim() !== splitReasoning(b).content.trim()) return 'content differs';
  const sc = stored.tool_calls ?? [];
  const ic = incoming.tool_calls ?? [];
  if (sc.length !== ic.length) return `tool call count differs (${sc.length} stored, ${ic.length} sent)`;
  for (let j = 0; j < sc.length; j++) {
    if (sc[j]!.function.name !== ic[j]!.function.name) return `tool call ${j} name differs`;
    if (canonicalJson(parseArguments(sc[j]!.function.arguments)) !== canonicalJson(parseArguments(ic[j]!.function.arguments))) return `tool call ${j} arguments differ`;
  }
  return undefined;
}

/** Finds the longest shared message prefix between a stored session and an incoming request. */
export function matchPrefix(stored: StoredConversation, incoming: IncomingConversation, opts: PrefixMatchOptions = {}): PrefixMatch {
  const ignore = new Set(opts.promptOnlyKwargs ?? ['enable_thinking']);
  const kw = (k: Readonly<Record<string, unknown>> | undefined) => canonicalJson(Object.fromEntries(Object.entries(k ?? {}).filter(([key]) => !ignore.has(key))));
  const restart = (reason: string): PrefixMatch => ({ keepMessages: 0, keepTokens: 0, append: [...incoming.messages], divergence: { index: 0, reason } });
  if (canonicalJson(stored.tools ?? []) !== canonicalJson(incoming.tools ?? [])) return restart('tool list differs');
  if (kw(stored.kwargs) !== kw(incoming.kwargs)) return restart('template kwargs differ');

  const sm = stored.messages;
  const im = incoming.messages;
  let i = 0;
  let divergence: PrefixMatch['divergence'];
  for (; i < sm.length; i++) {
    if (i >= im.length) {
      divergence = { index: i, reason: `message ${i} missing (stored session has ${sm.length} messages, request has ${im.length})` };
      break;
    }
    const why = messageDifference(sm[i]!.message, im[i]!);
    if (why !== undefined) {
      divergence = { index: i, reason: `message ${i} ${why}` };
      break;
    }
  }
  if (divergence === undefined) {
    return { keepMessages: sm.length, keepTokens: sm.length ? sm[sm.length - 1]!.end : 0, append: im.slice(sm.length) };
  }
  // Roll back to the start of the append group holding the first divergent stored message.
  const groupStart = sm[i]!.start;
  let keep = i;
  while (keep > 0 && sm[keep - 1]!.start === groupStart) keep--;
  if (keep === 0 && groupStart > 0) return { ...restart(divergence.reason), divergence };
  return { keepMessages: keep, keepTokens: groupStart, append: im.slice(keep), divergence };
}
