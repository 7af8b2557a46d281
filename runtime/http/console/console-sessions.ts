/**
 * What the console shows of sessions: the list row (origin kind, residency, KV bytes), the
 * transcript as the model sees it (each message with its token range and the rendered text of its
 * group), and the fork tree. Built from the sessions a request may see (`visible`), so a tenant
 * filter applied there reaches every view.
 */
import type { Session } from '../../../sessions/session.js';
import { conversationOf } from '../../chat/conversation.js';
import { readRunRecord } from '../../agent/run-record.js';
import type { Host } from '../../host/host.js';

/** Origin kinds the console groups sessions by. */
export type OriginKind = 'chat' | 'responses' | 'agent' | 'mcp' | 'api';

const KINDS: Record<string, OriginKind> = { 'chat-completions': 'chat', named: 'chat', responses: 'responses', agent: 'agent', mcp: 'mcp', api: 'api' };

/** The kind of a recorded origin (sessions created before origins were recorded count as 'api'). */
export function originKind(origin: unknown): OriginKind {
  return (typeof origin === 'string' && KINDS[origin]) || 'api';
}

/** Rendered text kept per group and per transcript (characters), and tokens decoded per group. */
export const TEXT_LIMITS = { group: 16_000, total: 400_000, groupTokens: 16_000 };

/** One row of the sessions list. */
export function sessionRow(s: Session) {
  const i = s.info();
  return {
    id: i.id,
    name: (i.settings.name as string | undefined) ?? null,
    origin: (i.settings.origin as string | undefined) ?? null,
    kind: originKind(i.settings.origin),
    token_count: i.tokenCount,
    messages: conversationOf(s).messages.length,
    state: i.resident ? ('resident' as const) : ('spilled' as const),
    kv_bytes: i.residentBytes,
    snapshot_covered: i.snapshotCovered,
    pinned: i.pinned,
    parent: i.parent ?? null,
    created_at: i.createdAt,
    last_used_at: i.lastUsedAt,
    agent_run: readRunRecord(s)?.runId ?? null,
  };
}

/** A damaged session's row (it could not be loaded: no figures). */
export function damagedRow(id: string, e: Error) {
  return { id, name: null, origin: null, kind: 'api' as OriginKind, token_count: 0, messages: 0, state: 'damaged' as const, kv_bytes: 0, snapshot_covered: 0, pinned: false, parent: null, created_at: 0, last_used_at: 0, agent_run: null, error: e.message };
}

/** Index of the first message of `s` at or after token `at` (= messages wholly before `at`). */
export function messageAt(s: Session, at: number): number {
  return conversationOf(s).messages.filter((m) => m.end <= at).length;
}

/** The transcript: messages with their group's token range, and each group's text as rendered for the model. */
export function transcriptOf(host: Host, s: Session) {
  const conv = conversationOf(s);
  const tokens = s.state.tokens;
  let budget = TEXT_LIMITS.total;
  let index = 0;
  const groups = conv.groups.map((g) => {
    const first = index;
    index += g.messages.length;
    let text: string | null = null;
    if (budget > 0) {
      const end = Math.min(g.meta.to, g.meta.from + TEXT_LIMITS.groupTokens); // decoding is bounded too
      const full = host.tokenizer.decode(tokens.slice(g.meta.from, end));
      text = full.length > TEXT_LIMITS.group || end < g.meta.to ? `${full.slice(0, TEXT_LIMITS.group)}…` : full;
      budget -= text.length;
    }
    return { first_message: first, from: g.meta.from, to: g.meta.to, kind: g.meta.kind, finish: g.meta.finish ?? null, text, messages: g.messages };
  });
  return { groups, end: conv.end, dangling_tokens: Math.max(0, tokens.length - conv.end) };
}

/** A node of the fork tree. */
export interface ForkNode {
  id: string;
  name: string | null;
  /** Token position and message index of the parent where this session forked off (null for the root). */
  at_token: number | null;
  at_message: number | null;
  token_count: number;
  children: ForkNode[];
}

/** The fork tree containing `s`, rooted at its highest visible ancestor (bounded by the visible sessions). */
export function forkTree(s: Session, visible: readonly Session[]): ForkNode {
  const byId = new Map(visible.map((x) => [x.id, x]));
  const kids = new Map<string, Session[]>();
  for (const x of visible) {
    const p = x.state.parent?.id;
    if (p && byId.has(p)) kids.set(p, [...(kids.get(p) ?? []), x]);
  }
  let root = s;
  for (let hops = 0; hops < visible.length; hops++) {
    const p = root.state.parent && byId.get(root.state.parent.id);
    if (!p) break;
    root = p;
  }
  const seen = new Set<string>();
  const node = (x: Session): ForkNode => {
    seen.add(x.id);
    const parent = x.state.parent && byId.get(x.state.parent.id);
    const at = x === root ? null : x.state.parent!.at;
    return {
      id: x.id, name: (x.state.settings.name as string | undefined) ?? null,
      at_token: at, at_message: at !== null && parent ? messageAt(parent, at) : null, token_count: x.state.tokens.length,
      children: (kids.get(x.id) ?? []).filter((c) => !seen.has(c.id)).sort((a, b) => a.state.createdAt - b.state.createdAt).map(node),
    };
  };
  return node(root);
}
