/** What a SessionStore is opened with, what create takes, and what memory() reports. */
import type { Engine, KvDType } from '../engine/engine-api.js';
import type { Scheduler } from '../engine/scheduler.js';
import type { DurabilityOptions } from './journal-sync.js';
import type { ResidencyFigures } from './resident-set.js';
import type { AppendOptions } from './session.js';

export interface StoreOptions {
  engine: Engine;
  /** Root of persisted data (default ./data). */
  dataDir?: string;
  /** Shared scheduler; default one owned by the store. */
  scheduler?: Scheduler;
  /** Engine slots held at once (default 8). */
  maxResidentSlots?: number;
  /** KV bytes resident sessions may hold together (default 8 GiB). */
  kvBudgetBytes?: number;
  /** Positions reserved per slot (default the model's max positions). */
  slotCapacity?: number;
  kvDtype?: KvDType;
  /** Write a snapshot segment once this many slot positions are not on disk (default 4096; 0 = only on spill/close). */
  snapshotEvery?: number;
  /** Target bytes per snapshot chunk (default 16 MiB). */
  snapshotChunkBytes?: number;
  /** Token ids → text, for stop strings and GenerateOutcome.text. */
  detokenize?: (tokens: number[]) => string;
  /** Bytes of recurrent-state checkpoints each session keeps, LRU (hybrid models; default defaultCheckpointBudget: 64 MiB or 8 states). */
  checkpointBudgetBytes?: number;
  /** Longest wait for a KV slot while every slot is busy, then SlotWaitError (default unbounded). */
  maxSlotWaitMs?: number;
  /** Journal durability: strict (fdatasync before an append resolves) or batched (default; synced within windowMs). */
  durability?: DurabilityOptions;
  /** Receives load/restore problems that were handled (corrupt snapshot dropped, torn tail cut). */
  onWarning?: (message: string) => void;
  /** Called with the new session's settings before create and fork write anything; throws to refuse (e.g. a tenant's session limit). */
  admit?: (settings: Readonly<Record<string, unknown>>) => void;
}

export interface CreateOptions extends AppendOptions {
  tools?: unknown[];
  settings?: Record<string, unknown>;
  /** Initial tokens (e.g. the encoded system prompt). */
  tokens?: number[];
  pinned?: boolean;
}

/**
 * Memory figures. spareSlots/spareBytes: recycled slots kept for the next admission (their pages stay
 * committed) and the bytes they hold; slotsCreated: slots the engine created for this store (a reused
 * spare is not a new slot).
 */
export interface MemoryReport extends ResidencyFigures {
  residentSessions: number;
  kvBytes: number;
  bytesPerToken: number;
  /** Bytes of one recurrent state (0 without linear-attention layers). */
  stateBytes: number;
  /** Checkpoint bytes and count over all sessions. */
  checkpointBytes: number;
  checkpointCount: number;
  sessions: { id: string; tokens: number; resident: boolean; pinned: boolean; residentBytes: number; checkpoints: number; checkpointBytes: number }[];
}
