/** Journal I/O: read (with torn-tail handling) and an append writer with group commit (docs/formats.md). */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../engine/util/atomic-file.js';
import { decodeJournal, encodeJournalHeader, type DecodedJournal } from './journal-format.js';
import { StoreClosedError } from './errors.js';

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
 * Appends records to a journal. `append` resolves once the bytes are written and fdatasync'ed;
 * appends arriving while a sync is in flight are written together by the next one (group commit).
 */
export class JournalWriter {
  private pending: Pending[] = [];
  private flushing = false;
  private closed = false;
  private failed: unknown = null;

  private constructor(
    readonly file: string,
    private fh: FileHandle,
    /** Current end of the good data; the file is cut here on open (drops a torn tail). */
    private size: number,
  ) {}

  /** Opens for appending at `validLength`, cutting anything after it (a torn tail). */
  static async open(file: string, validLength: number): Promise<JournalWriter> {
    const fh = await open(file, 'r+');
    const st = await fh.stat();
    if (st.size !== validLength) {
      await fh.truncate(validLength);
      await fh.sync();
    }
    return new JournalWriter(file, fh, validLength);
  }

  /** Bytes in the journal (acknowledged plus in flight). */
  get bytes(): number {
    return this.size + this.pending.reduce((a, p) => a + p.data.length, 0);
  }

  /** Appends framed records; resolves when durable. */
  append(...records: Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError(`journal ${this.file} is closed`));
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
        await this.fh.datasync();
        this.size += data.length;
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

  /** Waits for in-flight appends, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.pending.length) await new Promise((r) => setImmediate(r));
    this.closed = true;
    await this.fh.close();
  }
}
