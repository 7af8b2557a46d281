/** What a Session needs from its store (implemented by SessionStore). */
import type { Engine, KvSlot } from '../engine/engine-api.js';
import type { Scheduler } from '../engine/scheduler.js';
import type { Session } from './session.js';

export interface SessionHost {
  readonly engine: Engine;
  readonly scheduler: Scheduler;
  readonly detokenize?: (tokens: number[]) => string;
  /** Throws if the session was deleted or the store closed. */
  check(s: Session): void;
  /** The session's slot, making it resident (spilling others, restoring from disk) if needed. Call inside the session's lane. */
  resident(s: Session): Promise<KvSlot>;
  /** The session was used or its slot grew: recency, byte accounting, periodic snapshots. */
  touched(s: Session): void;
  /** Tokens were cut: prune snapshot segments, maybe compact the journal. Inside the lane. */
  truncated(s: Session): Promise<void>;
  /** Writes a segment for the slot's uncovered positions; returns positions written. Inside the lane. */
  snapshot(s: Session): Promise<number>;
}
