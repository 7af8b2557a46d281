/**
 * A session's recurrent-state checkpoints (hybrid models, KvSlot.stateBytes > 0): the state after
 * `position` tokens, taken where the session may come back to (message boundaries, feed ends, snapshot
 * points). Pure bookkeeping, no engine calls. Invariants: at most one checkpoint per position; every
 * checkpoint is valid for the session's current tokens (positions past a truncation are dropped); the
 * kept bytes stay within `budgetBytes` except for pinned ones (fork points) and the latest (highest
 * position), which are never evicted. Eviction is least recently used.
 */

/** The state after `position` tokens; `bytes` is immutable once taken (shared with forks). */
export interface Checkpoint {
  position: number;
  bytes: Buffer;
  /** Written to the session's kv/ folder (state-persist.ts). */
  persisted: boolean;
  /** LRU clock value of the last take / use. */
  used: number;
}

/** Figures for SessionInfo and the store's memory report. */
export interface CheckpointFigures {
  count: number;
  bytes: number;
  budgetBytes: number;
  /** Checkpoint positions, ascending. */
  positions: number[];
  /** Checkpoints evicted under the budget since the session was opened. */
  evicted: number;
}

/** Default byte budget of one session's checkpoints: 64 MiB, or room for 8 states where a state is larger (a real
 * Qwen3.6-35B-A3B state is ~63 MB: a fixed 64 MiB would keep only the latest). */
export function defaultCheckpointBudget(stateBytes: number): number {
  return Math.max(64 * 2 ** 20, 8 * stateBytes);
}

export class StateCheckpoints {
  /** Sorted by position. */
  private list: Checkpoint[] = [];
  private pins = new Map<number, number>();
  private clock = 0;
  private evictions = 0;

  constructor(
    readonly stateBytes: number,
    public budgetBytes = defaultCheckpointBudget(stateBytes),
  ) {}

  /** Changes the budget (evicting down to it). */
  setBudget(bytes: number): void {
    this.budgetBytes = bytes;
    this.evict();
  }

  /** Whether the model has a recurrent state at all (else every method is a cheap no-op). */
  get enabled(): boolean {
    return this.stateBytes > 0;
  }

  get count(): number {
    return this.list.length;
  }

  get bytes(): number {
    return this.list.length * this.stateBytes;
  }

  get(position: number): Checkpoint | undefined {
    return this.list.find((c) => c.position === position);
  }

  all(): readonly Checkpoint[] {
    return this.list;
  }

  /** Keeps the state after `position` tokens (replacing one at that position), then evicts over budget. */
  add(position: number, bytes: Buffer, persisted = false): Checkpoint {
    if (!this.enabled) throw new RangeError('checkpoints of a model without recurrent state');
    if (bytes.length !== this.stateBytes) throw new RangeError(`checkpoint of ${bytes.length} bytes, the state has ${this.stateBytes}`);
    const c: Checkpoint = { position, bytes, persisted, used: ++this.clock };
    const i = this.list.findIndex((x) => x.position >= position);
    if (i < 0) this.list.push(c);
    else if (this.list[i]!.position === position) this.list[i] = c;
    else this.list.splice(i, 0, c);
    this.evict();
    return c;
  }

  /** The checkpoint with the highest position ≤ n (marked used), if any. */
  best(n: number): Checkpoint | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const c = this.list[i]!;
      if (c.position <= n) {
        c.used = ++this.clock;
        return c;
      }
    }
    return undefined;
  }

  /** Drops checkpoints past position n (the tokens after n changed or went away); returns them. */
  dropAfter(n: number): Checkpoint[] {
    const gone = this.list.filter((c) => c.position > n);
    if (gone.length) this.list = this.list.filter((c) => c.position <= n);
    return gone;
  }

  /** Protects the checkpoint at `position` (present or future) from eviction; counted. */
  pin(position: number): void {
    this.pins.set(position, (this.pins.get(position) ?? 0) + 1);
  }

  unpin(position: number): void {
    const k = (this.pins.get(position) ?? 0) - 1;
    if (k > 0) this.pins.set(position, k);
    else this.pins.delete(position);
    this.evict();
  }

  isPinned(position: number): boolean {
    return this.pins.has(position);
  }

  /** Checkpoints at positions ≤ n, for a fork's child (buffers shared, not copied; marked unpersisted). */
  upTo(n: number): Checkpoint[] {
    return this.list.filter((c) => c.position <= n).map((c) => ({ ...c, persisted: false }));
  }

  /** Takes over checkpoints (a fork's), keeping their LRU order. */
  adopt(cs: readonly Checkpoint[]): void {
    for (const c of [...cs].sort((a, b) => a.used - b.used)) this.add(c.position, c.bytes, c.persisted);
  }

  figures(): CheckpointFigures {
    return { count: this.count, bytes: this.bytes, budgetBytes: this.budgetBytes, positions: this.list.map((c) => c.position), evicted: this.evictions };
  }

  /** LRU eviction over the budget; the latest and pinned checkpoints stay. */
  private evict(): void {
    while (this.bytes > this.budgetBytes) {
      const latest = this.list[this.list.length - 1];
      let victim: Checkpoint | undefined;
      for (const c of this.list) if (c !== latest && !this.pins.has(c.position) && (!victim || c.used < victim.used)) victim = c;
      if (!victim) return;
      this.list = this.list.filter((c) => c !== victim);
      this.evictions++;
    }
  }
}
