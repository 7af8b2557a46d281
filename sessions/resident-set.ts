/**
 * The sessions holding a KV slot: admission (LRU spill within the ResidencyPolicy's slot count and
 * KV byte budget, restore from snapshot segments), release into the SlotPool, and snapshot cadence
 * (a background segment once `snapshotEvery` positions are not on disk; a background spill when the
 * budget is exceeded). Invariants: a session has a slot iff the policy holds its id; spares plus
 * resident sessions stay within both limits (trimPool after every change).
 */
import type { Engine, KvDType, KvSlot } from '../engine/engine-api.js';
import type { Scheduler } from '../engine/scheduler.js';
import { Lane } from '../engine/util/lane.js';
import { ResidencyError, KvBudgetError, SlotWaitError } from './errors.js';
import { restoreKv, writeSnapshot, type KvFormat } from './kv-persist.js';
import { ResidencyPolicy, type ResidencyLimits } from './residency.js';
import type { Session } from './session.js';
import { SlotPool } from './slot-pool.js';
import { persistCheckpoints } from './state-persist.js';
import { checkpointHere } from './state-sync.js';

export interface ResidentSetOptions {
  engine: Engine;
  scheduler: Scheduler;
  format: KvFormat;
  limits: ResidencyLimits;
  /** Positions reserved per slot. */
  slotCapacity: number;
  kvDtype: KvDType;
  /** Positions not on disk that trigger a background snapshot (0 = only on spill/close). */
  snapshotEvery: number;
  /** Longest wait for a busy slot before SlotWaitError (back-pressure; default unbounded). */
  maxSlotWaitMs?: number;
  /** The store's live session by id. */
  lookup: (id: string) => Session | undefined;
  warn: (message: string) => void;
}

/** Quiet time of a session before its background snapshot runs (ms), and the backlog that skips the wait. */
const SNAPSHOT_IDLE_MS = 250;
const URGENT = 8;
/**
 * When the slots (or the KV budget, past this share) are nearly full, this many least recently used idle sessions
 * are snapshotted ahead, in the background: the admission that evicts one then only releases its slot, instead of
 * writing its K/V to disk while new turns wait behind it.
 */
const SNAPSHOT_AHEAD = 2;
const NEARLY_FULL = 0.9;

/** Resolves once `s` has run no operation for `ms` (its lane idle, last use at least `ms` ago). */
async function whenIdle(s: Session, ms: number): Promise<void> {
  while (ms > 0 && (s.lane.busy || Date.now() - s.state.lastUsedAt < ms)) await new Promise((r) => setTimeout(r, ms / 2));
}

/** Slot and budget figures for the store's memory report. */
export interface ResidencyFigures {
  maxResidentSlots: number;
  kvBudgetBytes: number;
  spareSlots: number;
  spareBytes: number;
  slotsCreated: number;
}

export class ResidentSet {
  private policy: ResidencyPolicy;
  private pool: SlotPool;
  private admitting = new Lane();
  private snapshotQueued = new Set<string>();
  /** Sessions whose lane runs their snapshot ahead right now. */
  private ahead = new Set<string>();
  private background = new Set<Promise<unknown>>();

  constructor(private o: ResidentSetOptions) {
    this.policy = new ResidencyPolicy(o.limits);
    this.pool = new SlotPool(o.engine, o.slotCapacity, o.kvDtype);
  }

  /**
   * The session's slot, admitting it if needed: LRU idle sessions are spilled to make room. While
   * the only candidates are busy (not pinned) it waits for one to finish; with `wait: false` it
   * throws the ResidencyError instead of waiting.
   */
  async resident(s: Session, restore = true, wait = true): Promise<KvSlot> {
    const since = performance.now();
    for (;;) {
      if (s.slot) {
        this.policy.touch(s.id);
        return s.slot;
      }
      try {
        return await this.admitting.run(() => this.admitLocked(s, restore));
      } catch (e) {
        const waitable = this.policy.ids().some((id) => id !== s.id && !this.o.lookup(id)?.pinned);
        if (!(e instanceof ResidencyError) || !wait || !waitable || e instanceof KvBudgetError) throw e;
        const max = this.o.maxSlotWaitMs ?? Infinity;
        if (performance.now() - since >= max) {
          throw new SlotWaitError(`all ${this.policy.limits.maxSlots} KV slots stayed busy for ${Math.round(max)} ms`, Math.max(1, Math.ceil(max / 1000)));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }

  /** Whether a session `id` needing `bytes` could be admitted now by spilling idle sessions. */
  hasRoom(id: string, bytes: number): boolean {
    try {
      this.policy.victims(id, bytes, (v) => this.evictable(v));
      return true;
    } catch {
      return false;
    }
  }

  /** The session was used or its slot grew: recency, byte accounting, background snapshot or spill. */
  touched(s: Session): void {
    if (!s.slot) return;
    this.policy.touch(s.id, s.slot.residentBytes());
    const uncovered = s.slot.length - s.covered;
    if (this.o.snapshotEvery > 0 && uncovered >= this.o.snapshotEvery && !this.snapshotQueued.has(s.id)) {
      // A snapshot is a restore cache (the journal holds the tokens): it waits until the session has been idle
      // for SNAPSHOT_IDLE_MS, so it never delays the turn in progress (a cold agent turn appends its system
      // prompt, then the rest, then generates); far behind (URGENT × snapshotEvery) it runs at once.
      this.queueSnapshot(s, uncovered >= URGENT * this.o.snapshotEvery ? 0 : SNAPSHOT_IDLE_MS);
    }
    if (this.policy.totalBytes > this.policy.limits.kvBudgetBytes) {
      const v = this.policy.ids().reverse().find((id) => this.evictable(id));
      const vs = v === undefined ? undefined : this.o.lookup(v);
      if (vs) this.inBackground(vs.op(() => this.spill(vs)));
    }
    this.snapshotAhead();
  }

  /** Nearly full: the next evictions' victims (LRU idle sessions) get their K/V on disk now, in the background. */
  private snapshotAhead(): void {
    const { maxSlots, kvBudgetBytes } = this.policy.limits;
    if (this.policy.count < maxSlots - SNAPSHOT_AHEAD && this.policy.totalBytes < NEARLY_FULL * kvBudgetBytes) return;
    let n = 0;
    for (const id of this.policy.ids().reverse()) {
      if (n >= SNAPSHOT_AHEAD) break;
      if (!this.evictable(id)) continue;
      n++;
      const v = this.o.lookup(id)!;
      if (v.slot && v.covered < v.slot.length && !this.snapshotQueued.has(id)) this.queueSnapshot(v, 0, true);
    }
  }

  /** A background snapshot of `s` once it has been idle `idleMs`; `ahead`: it stays evictable meanwhile (evictable()). */
  private queueSnapshot(s: Session, idleMs: number, ahead = false): void {
    this.snapshotQueued.add(s.id);
    const write = async () => {
      if (ahead) this.ahead.add(s.id);
      try {
        if (!s.deleted) await this.snapshot(s);
      } finally {
        this.ahead.delete(s.id);
      }
    };
    this.inBackground(whenIdle(s, idleMs).then(async () => { if (!s.deleted) await s.op(write); }).finally(() => this.snapshotQueued.delete(s.id)));
  }

  /** Writes a segment for the slot's positions not on disk; returns positions written. Inside the session's lane. */
  async snapshot(s: Session): Promise<number> {
    if (!s.slot) return 0;
    const n = await writeSnapshot(s, s.slot, this.o.scheduler, this.o.format);
    // The state at the snapshot's end (a snapshot point) and every kept checkpoint go to disk beside it.
    await checkpointHere(s.slot, s.checkpoints, this.o.scheduler);
    await persistCheckpoints(s.dir, this.o.format.model, s.state.tokens, s.checkpoints);
    return n;
  }

  /** Snapshots the session and gives its slot back. Inside the session's lane. */
  async spill(s: Session): Promise<void> {
    if (!s.slot) return;
    await this.snapshot(s);
    this.release(s);
    s.counters.spills++;
  }

  /** Takes the session's slot back into the pool (its K/V is dropped). */
  release(s: Session): void {
    if (s.slot) this.pool.give(s.slot);
    s.slot = null;
    s.lastLogits = null;
    this.policy.remove(s.id);
    this.trimPool();
  }

  /** Waits for the background snapshots and spills started so far. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  /** Frees every spare slot. */
  dispose(): void {
    this.pool.dispose();
  }

  figures(): ResidencyFigures {
    return {
      maxResidentSlots: this.policy.limits.maxSlots,
      kvBudgetBytes: this.policy.limits.kvBudgetBytes,
      spareSlots: this.pool.count,
      spareBytes: this.pool.bytes,
      slotsCreated: this.pool.created,
    };
  }

  private async admitLocked(s: Session, restore: boolean): Promise<KvSlot> {
    if (s.slot) return s.slot;
    const need = () => Math.max(1, s.state.tokens.length) * this.o.format.bytesPerToken;
    for (;;) {
      const victims = this.policy.victims(s.id, need(), (v) => this.evictable(v));
      if (!victims.length) break;
      for (const v of victims) {
        const vs = this.o.lookup(v);
        if (!vs) this.policy.remove(v);
        else if (this.evictable(v)) await vs.lane.run(() => this.spill(vs));
      }
    }
    const slot = this.pool.take();
    s.slot = slot;
    s.lastLogits = null;
    this.policy.admit(s.id, need());
    this.trimPool();
    this.snapshotAhead();
    if (restore) {
      try {
        s.counters.restored += await restoreKv(s, slot, this.o.scheduler, (m) => (s.warnings.push(m), this.o.warn(m)));
      } catch (e) {
        this.release(s);
        throw e;
      }
    }
    return slot;
  }

  /** Idle, or busy only with its snapshot ahead, nothing queued behind it (a spill waits for it, then just releases the slot). */
  private evictable(id: string): boolean {
    const s = this.o.lookup(id);
    return !!s && !s.pinned && (!s.lane.busy || (this.ahead.has(id) && s.lane.size === 1));
  }

  /** Spares fit beside the resident sessions within the slot count and the KV byte budget. */
  private trimPool(): void {
    const { maxSlots, kvBudgetBytes } = this.policy.limits;
    this.pool.trim(maxSlots - this.policy.count, kvBudgetBytes - this.policy.totalBytes);
  }

  private inBackground(p: Promise<unknown>): void {
    const q = p.catch((e) => this.o.warn(`background task failed: ${(e as Error).message}`)).finally(() => this.background.delete(q));
    this.background.add(q);
  }
}
