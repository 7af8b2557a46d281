/**
 * Spare KV slots. A spilled or deleted session's slot is recycled (emptied, its committed pages kept)
 * rather than freed, so the next session admitted — typically the one the spill made room for —
 * restores or forks into memory that is already mapped instead of faulting in fresh pages.
 * Invariant: every spare has length 0; spares count against the store's slot and byte limits (trim).
 */
import type { Engine, KvDType, KvSlot } from '../engine/engine-api.js';

export class SlotPool {
  private spare: KvSlot[] = [];
  /** Slots created by the engine through this pool (spares reused are not counted). */
  created = 0;

  constructor(
    private readonly engine: Engine,
    private readonly capacity: number,
    private readonly kvDtype: KvDType,
  ) {}

  /** A spare slot (the one with the most committed memory) or a new one. */
  take(): KvSlot {
    if (this.spare.length) {
      let best = 0;
      for (let i = 1; i < this.spare.length; i++) if (this.spare[i]!.residentBytes() > this.spare[best]!.residentBytes()) best = i;
      return this.spare.splice(best, 1)[0]!;
    }
    this.created++;
    return this.engine.createSlot(this.capacity, this.kvDtype);
  }

  /** Takes back a slot no session uses any more; it is emptied and kept until trimmed. */
  give(slot: KvSlot): void {
    try {
      slot.recycle();
      this.spare.push(slot);
    } catch {
      slot.dispose(); // busy or disposed: never reuse it
    }
  }

  get count(): number {
    return this.spare.length;
  }

  /** Committed bytes held by spares. */
  get bytes(): number {
    return this.spare.reduce((a, s) => a + s.residentBytes(), 0);
  }

  /** Frees spares (smallest first) until at most `maxCount` remain holding at most `maxBytes`. */
  trim(maxCount: number, maxBytes: number): void {
    this.spare.sort((a, b) => b.residentBytes() - a.residentBytes());
    while (this.spare.length && (this.spare.length > Math.max(0, maxCount) || this.bytes > maxBytes)) this.spare.pop()!.dispose();
  }

  /** Frees every spare. */
  dispose(): void {
    this.trim(0, 0);
  }
}
