/**
 * Residency policy (pure): which sessions keep a KV slot. Bounded by a slot count and a KV byte
 * budget; when a session needs a slot and either bound would be exceeded, the least recently used
 * evictable sessions are chosen to spill. Recency is kept by lru-cache (never auto-evicting: room
 * is always made before an insert).
 */
import { LRUCache } from 'lru-cache';
import { ResidencyError, KvBudgetError } from './errors.js';

export interface ResidencyLimits {
  /** Engine slots that may be held at once (≥ 1). */
  maxSlots: number;
  /** KV bytes that resident sessions may hold together. */
  kvBudgetBytes: number;
}

interface Entry {
  bytes: number;
}

export class ResidencyPolicy {
  private lru: LRUCache<string, Entry>;

  constructor(readonly limits: ResidencyLimits) {
    if (!(limits.maxSlots >= 1)) throw new RangeError('maxSlots must be ≥ 1');
    if (!(limits.kvBudgetBytes > 0)) throw new RangeError('kvBudgetBytes must be > 0');
    this.lru = new LRUCache<string, Entry>({ max: limits.maxSlots + 1 });
  }

  /** Resident session ids, most recently used first. */
  ids(): string[] {
    return [...this.lru.keys()];
  }

  has(id: string): boolean {
    return this.lru.has(id);
  }

  get count(): number {
    return this.lru.size;
  }

  /** KV bytes held by resident sessions (as last reported). */
  get totalBytes(): number {
    let t = 0;
    for (const e of this.lru.values()) t += e.bytes;
    return t;
  }

  /** Marks a session used (most recent) and records its bytes; it must already be admitted. */
  touch(id: string, bytes?: number): void {
    const e = this.lru.get(id);
    if (e && bytes !== undefined) e.bytes = bytes;
  }

  /** Updates bytes without changing recency. */
  setBytes(id: string, bytes: number): void {
    const e = this.lru.peek(id);
    if (e) e.bytes = bytes;
  }

  /**
   * Sessions to spill, least recently used first, so that `id` can be admitted needing `bytes`.
   * `evictable(id)` says whether a resident session may be spilled now (not pinned, not busy).
   * Throws ResidencyError when no choice makes room.
   */
  victims(id: string, bytes: number, evictable: (id: string) => boolean): string[] {
    if (bytes > this.limits.kvBudgetBytes) {
      throw new KvBudgetError(`session ${id} needs ${bytes} KV bytes, more than the whole budget of ${this.limits.kvBudgetBytes}`);
    }
    const out: string[] = [];
    let count = this.lru.size + (this.lru.has(id) ? 0 : 1);
    let total = this.totalBytes - (this.lru.peek(id)?.bytes ?? 0) + bytes;
    for (const v of this.lru.rkeys()) {
      if (count <= this.limits.maxSlots && total <= this.limits.kvBudgetBytes) break;
      if (v === id || !evictable(v)) continue;
      out.push(v);
      count--;
      total -= this.lru.peek(v)!.bytes;
    }
    if (count > this.limits.maxSlots || total > this.limits.kvBudgetBytes) {
      throw new ResidencyError(
        `no room for session ${id}: ${count} slots (max ${this.limits.maxSlots}), ${total} KV bytes (budget ${this.limits.kvBudgetBytes}) after spilling every evictable session`,
      );
    }
    return out;
  }

  /** Records `id` as resident (most recent). Call after its victims were removed. */
  admit(id: string, bytes: number): void {
    this.lru.set(id, { bytes });
  }

  remove(id: string): void {
    this.lru.delete(id);
  }
}
