/**
 * Journal durability policy (`--durability`), as databases offer it (PostgreSQL `synchronous_commit`,
 * SQLite `synchronous`):
 *   - `strict`: an append resolves once its bytes are written and fdatasync'ed (one sync per session
 *     per acknowledged record, group-committed per journal).
 *   - `batched`: an append resolves once its bytes are written (in the page cache: a process crash,
 *     kill -9 included, loses nothing acknowledged); dirty journals are fdatasync'ed together in one
 *     round at most `windowMs` after their first unsynced write. A power loss may lose what was
 *     acknowledged in the last window (plus that round's sync time); nothing older.
 */

/** How journal appends become durable. */
export type DurabilityMode = 'strict' | 'batched';

/** One finished fdatasync of a journal: its first `bytes` are on stable storage since `endedAt` (performance.now()). */
export interface SyncEvent {
  file: string;
  bytes: number;
  startedAt: number;
  endedAt: number;
}

export interface DurabilityOptions {
  mode: DurabilityMode;
  /** batched: longest time from a write to the start of the sync round covering it (ms). */
  windowMs?: number;
  /** Sees every finished sync (tests: what survives a power cut; metrics). */
  onSync?: (e: SyncEvent) => void;
}

/** The default: batched, 50 ms (kill -9 loses nothing; a power cut at most ~50 ms of tokens). */
export const DEFAULT_DURABILITY: Required<Omit<DurabilityOptions, 'onSync'>> = { mode: 'batched', windowMs: 50 };

/** A journal the syncer can make durable. */
export interface SyncTarget {
  /** fdatasyncs everything written so far (no-op when nothing is unsynced). */
  syncNow(): Promise<void>;
}

/** Shared by every journal of a store: the policy, and in batched mode the timer of the next sync round. */
export class JournalSyncer {
  readonly mode: DurabilityMode;
  readonly windowMs: number;
  readonly onSync?: (e: SyncEvent) => void;
  private dirtySet = new Set<SyncTarget>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  /** Sync rounds run (batched) — one per window with writes, whatever the number of sessions. */
  rounds = 0;

  constructor(o: DurabilityOptions = DEFAULT_DURABILITY) {
    if (o.mode !== 'strict' && o.mode !== 'batched') throw new RangeError(`durability mode must be strict or batched, got '${o.mode}'`);
    const w = o.windowMs ?? DEFAULT_DURABILITY.windowMs;
    if (!(Number.isFinite(w) && w >= 1 && w <= 60_000)) throw new RangeError(`durability window must be 1..60000 ms, got ${w}`);
    this.mode = o.mode;
    this.windowMs = w;
    this.onSync = o.onSync;
  }

  /** batched: `t` has unsynced bytes; a sync round starts within windowMs. */
  dirty(t: SyncTarget): void {
    this.dirtySet.add(t);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.windowMs);
      this.timer.unref();
    }
  }

  /** Syncs every dirty journal now (one round); resolves when they are durable. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.round) await this.round;
    if (!this.dirtySet.size) return;
    const targets = [...this.dirtySet];
    this.dirtySet.clear();
    this.rounds++;
    this.round = Promise.allSettled(targets.map((t) => t.syncNow())).then(() => {
      this.round = null;
    });
    await this.round;
  }

  /** Forgets a closed journal (its close synced it). */
  forget(t: SyncTarget): void {
    this.dirtySet.delete(t);
  }
}
