/** Journal I/O: read (with torn-tail handling) and an append writer with group commit (docs/formats.md). */
import { fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../engine/util/atomic-file.js';
import { decodeJournal, encodeJournalHeader, type DecodedJournal } from './journal-format.js';
import { StoreClosedError } from './errors.js';
import { JournalSyncer, type SyncTarget } from './journal-sync.js';

/** The policy of writers opened without one: strict (synced before acknowledged). */
const STRICT = new JournalSyncer({ mode: 'strict' });

/** Reads and checks a journal file. Throws JournalCorruptError on damage; a torn tail is reported, not thrown. */
export async function readJournal(file: string, sessionId: string): Promise<DecodedJournal> {
  return decodeJournal(await readFile(file), sessionId, file);
}

/** Creates (atomically) a journal holding `records` after the header. */
export async function createJournal(file: string, records: Buffer[]): Promise<number> {
  return writeFileAtomic(file, [encodeJournalHeader(), ...records]);
}

interface Pending {
  data: Buffer;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Appends records to a journal. Durability follows the writer's JournalSyncer (journal-sync.ts):
 * strict — `append` resolves once the bytes are written and fdatasync'ed; appends arriving while a
 * sync is in flight are written together by the next one (group commit). batched — `append` writes
 * synchronously (page cache) and resolves; the syncer fdatasyncs within its window.
 */
export class JournalWriter implements SyncTarget {
  private pending: Pending[] = [];
  private flushing = false;
  private closed = false;
  private failed: unknown = null;
  /** Bytes known to be on stable storage. */
  private synced: number;
  private syncing: Promise<void> | null = null;

  private constructor(
    readonly file: string,
    private fh: FileHandle,
    /** Current end of the good data; the file is cut here on open (drops a torn tail). */
    private size: number,
    readonly syncer: JournalSyncer,
  ) {
    this.synced = size;
  }

  /**
   * Opens for appending at `validLength`, cutting anything after it (a torn tail). `unsynced`: the file's bytes are
   * not on stable storage yet (a batched creation): the next sync round syncs them.
   */
  static async open(file: string, validLength: number, syncer: JournalSyncer = STRICT, o: { unsynced?: boolean } = {}): Promise<JournalWriter> {
    const fh = await open(file, 'r+');
    const st = await fh.stat();
    if (st.size !== validLength) {
      await fh.truncate(validLength);
      await fh.sync();
    }
    const w = new JournalWriter(file, fh, validLength, syncer);
    if (o.unsynced) {
      w.synced = 0;
      syncer.dirty(w);
    }
    return w;
  }

  /** Bytes on stable storage (≤ bytes). */
  get syncedBytes(): number {
    return this.synced;
  }

  /** Bytes in the journal (acknowledged plus in flight). */
  get bytes(): number {
    return this.size + this.pending.reduce((a, p) => a + p.data.length, 0);
  }

  /** Appends framed records; resolves when durable (strict) or written (batched). */
  append(...records: Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError(`journal ${this.file} is closed`));
    if (this.syncer.mode === 'batched' && !this.flushing) return this.appendWritten(records.length === 1 ? records[0]! : Buffer.concat(records));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data: records.length === 1 ? records[0]! : Buffer.concat(records), resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((p) => p.data));
      try {
        if (this.failed) {
          // A failed write may have left part of a record: cut back to the last good end before writing again
          // (this throws again while the cause, e.g. a full disk, persists).
          await this.fh.truncate(this.size);
          await this.fh.datasync();
          this.failed = null;
        }
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.size + off);
          off += bytesWritten;
        }
        this.size += data.length;
        await this.syncNow();
        for (const p of batch) p.resolve();
      } catch (e) {
        // A failed write leaves the file in an unknown state past `size`: the next append cuts it back first.
        this.failed = e;
        for (const p of [...batch, ...this.pending]) p.reject(e);
        this.pending = [];
      }
    }
    this.flushing = false;
  }

  /** batched: one synchronous write of the whole buffer at the end; the syncer is told. */
  private appendWritten(data: Buffer): Promise<void> {
    try {
      if (this.failed) {
        // as in flush: cut back what a failed write may have left before writing again
        ftruncateSync(this.fh.fd, this.size);
        fdatasyncSync(this.fh.fd);
        this.failed = null;
      }
      let off = 0;
      while (off < data.length) off += writeSync(this.fh.fd, data, off, data.length - off, this.size + off);
      this.size += data.length;
    } catch (e) {
      this.failed = e;
      return Promise.reject(e);
    }
    this.syncer.dirty(this);
    return Promise.resolve();
  }

  /** fdatasyncs what is written; reports it to the syncer's onSync. A failed sync fails the writer. */
  async syncNow(): Promise<void> {
    while (this.syncing) await this.syncing;
    if (this.synced >= this.size || this.closed) return;
    const bytes = this.size;
    const startedAt = performance.now();
    this.syncing = this.fh.datasync().then(
      () => {
        this.synced = Math.max(this.synced, bytes);
        this.syncer.onSync?.({ file: this.file, bytes, startedAt, endedAt: performance.now() });
      },
      (e) => {
        this.failed ??= e;
        throw e;
      },
    );
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
    }
  }

  /** Waits for in-flight appends, syncs what is written, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.pending.length) await new Promise((r) => setImmediate(r));
    if (!this.failed) await this.syncNow();
    this.syncer.forget(this);
    this.closed = true;
    await this.fh.close();
  }
}
