/** A session's persistent state and how journal records rebuild it (pure; no I/O). */
import { JournalCorruptError } from './errors.js';
import {
  decodeTokens,
  decodeTruncate,
  encodeJson,
  encodeRecord,
  encodeTokens,
  RecordType,
  type JournalRecord,
} from './journal-format.js';

/** One message of the conversation and the token range [start, end) it occupies in the slot. */
export interface MessageSpan {
  role: string;
  /** Text or structured content as the caller gave it (opaque to the session). */
  content?: unknown;
  start: number;
  end: number;
  /** Extra fields (tool call id, name...), opaque. */
  meta?: Record<string, unknown>;
}

/** Everything a session persists. `tokens` is the source of truth for what its KV slot must hold. */
export interface SessionState {
  id: string;
  /** Engine fingerprint + KV dtype, e.g. "<fingerprint>/kv:f32". */
  model: string;
  createdAt: number;
  lastUsedAt: number;
  tokens: number[];
  messages: MessageSpan[];
  tools: unknown[];
  settings: Record<string, unknown>;
  parent?: { id: string; at: number };
  /** Tokens produced by generate (persisted through the Tokens record source flag). */
  generated: number;
}

/** Body of a Meta record: the fields present replace the state's. */
export interface MetaRecord {
  tools?: unknown[];
  settings?: Record<string, unknown>;
  generated?: number;
}

export interface OpenRecord {
  id: string;
  model: string;
  createdAt: number;
  parent?: { id: string; at: number };
}

/** Rebuilds the state from decoded records. Throws JournalCorruptError on an impossible sequence. */
export function replay(records: JournalRecord[], sessionId: string, file: string): SessionState {
  const bad = (r: JournalRecord, why: string) => new JournalCorruptError(sessionId, file, r.offset, why);
  const first = records[0];
  if (!first || first.type !== RecordType.Open) {
    throw new JournalCorruptError(sessionId, file, 16, 'journal does not start with an Open record');
  }
  let open: OpenRecord;
  try {
    open = JSON.parse(first.body.toString('utf8')) as OpenRecord;
  } catch {
    throw bad(first, 'Open record is not JSON');
  }
  if (open.id !== sessionId) throw bad(first, `Open record names session ${open.id}`);
  const s: SessionState = {
    id: open.id,
    model: open.model,
    createdAt: open.createdAt,
    lastUsedAt: open.createdAt,
    tokens: [],
    messages: [],
    tools: [],
    settings: {},
    parent: open.parent,
    generated: 0,
  };
  for (const r of records.slice(1)) {
    try {
      applyRecord(s, r);
    } catch (e) {
      throw bad(r, (e as Error).message);
    }
  }
  return s;
}

/** Applies one record (not Open) to the state. */
export function applyRecord(s: SessionState, r: JournalRecord): void {
  switch (r.type) {
    case RecordType.Tokens: {
      const t = decodeTokens(r.body);
      for (const x of t.tokens) s.tokens.push(x);
      if (t.source === 1) s.generated += t.tokens.length;
      s.lastUsedAt = t.time;
      return;
    }
    case RecordType.Truncate: {
      const t = decodeTruncate(r.body);
      if (t.n > s.tokens.length) throw new RangeError(`truncate to ${t.n} past ${s.tokens.length} tokens`);
      truncateState(s, t.n);
      s.lastUsedAt = t.time;
      return;
    }
    case RecordType.Message: {
      const m = JSON.parse(r.body.toString('utf8')) as MessageSpan;
      if (!(m.start >= 0 && m.end >= m.start && m.end <= s.tokens.length)) throw new RangeError('message range out of bounds');
      s.messages.push(m);
      return;
    }
    case RecordType.Meta: {
      const m = JSON.parse(r.body.toString('utf8')) as MetaRecord;
      if (m.tools) s.tools = m.tools;
      if (m.settings) s.settings = m.settings;
      if (typeof m.generated === 'number') s.generated = m.generated;
      return;
    }
    default:
      throw new RangeError(`unexpected record type ${r.type}`);
  }
}

/** Keeps tokens [0, n); messages past the cut are dropped, a message straddling it is shortened. */
export function truncateState(s: SessionState, n: number): void {
  s.tokens.length = n;
  s.messages = s.messages.filter((m) => m.start < n);
  for (const m of s.messages) if (m.end > n) m.end = n;
}

/** Records for the current state, in the order replay expects (for compaction and forks). */
export function stateRecords(s: SessionState): Buffer[] {
  const open: OpenRecord = { id: s.id, model: s.model, createdAt: s.createdAt, parent: s.parent };
  const out = [encodeRecord(RecordType.Open, encodeJson(open))];
  const meta: MetaRecord = { tools: s.tools, settings: s.settings, generated: s.generated };
  out.push(encodeRecord(RecordType.Meta, encodeJson(meta)));
  const CHUNK = 1 << 20;
  for (let i = 0; i < s.tokens.length; i += CHUNK) {
    const part = s.tokens.slice(i, i + CHUNK);
    out.push(encodeRecord(RecordType.Tokens, encodeTokens(s.lastUsedAt, 0, part)));
  }
  for (const m of s.messages) out.push(encodeRecord(RecordType.Message, encodeJson(m)));
  return out;
}

