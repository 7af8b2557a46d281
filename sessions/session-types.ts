/** The shapes a Session takes and reports: counters, info, append options, message input and encoder. */
import type { MessageSpan } from './session-state.js';
import type { CheckpointFigures } from './state-checkpoints.js';

/** Per-session work counters (since the store opened it). */
export interface SessionCounters {
  /** Tokens this session ran through the engine (appends, lazily fed tails, refeeds). */
  prefilled: number;
  /** Tokens whose K/V was kept instead of recomputed (rollback/edit prefix, fork copy). */
  reused: number;
  /** Tokens whose K/V was loaded from snapshot segments. */
  restored: number;
  /** Tokens generated (persisted). */
  generated: number;
  /** Times the session was spilled to disk. */
  spills: number;
}

export interface SessionInfo {
  id: string;
  model: string;
  createdAt: number;
  lastUsedAt: number;
  tokenCount: number;
  messages: MessageSpan[];
  tools: unknown[];
  settings: Record<string, unknown>;
  parent?: { id: string; at: number };
  resident: boolean;
  pinned: boolean;
  /** Positions currently in the KV slot. */
  slotLength: number;
  residentBytes: number;
  /** Positions restorable from snapshot segments on disk. */
  snapshotCovered: number;
  journalBytes: number;
  counters: SessionCounters;
  /** Recurrent-state checkpoints kept (all zero for models without linear-attention layers). */
  checkpoints: CheckpointFigures;
  /** Problems met while loading (corrupt snapshot segments dropped, torn journal tail...). */
  warnings: string[];
}

export interface AppendOptions {
  /** Records the appended tokens as one message. */
  message?: { role: string; content?: unknown; meta?: Record<string, unknown> };
  signal?: AbortSignal;
  priority?: number;
  /** false: no next-token logits are wanted after these tokens (a closing append), so none are computed. */
  logits?: boolean;
}

/** A message for the message layer, encoded to tokens by the caller's encoder (the append protocol). */
export interface MessageInput {
  role: string;
  content?: unknown;
  meta?: Record<string, unknown>;
}

/** Encodes message `index` of a session to the tokens it appends. */
export type MessageEncoder = (message: MessageInput, index: number) => number[] | Promise<number[]>;
