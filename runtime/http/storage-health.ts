/**
 * The data folder's health as /health reports it: a small probe file written and removed (at most
 * once a second), so a full or read-only disk shows up — and its recovery too — without waiting for
 * a request to fail.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storageErrorOf } from '../../sessions/errors.js';

/** `ok`, or the storage error code and message. */
export type StorageStatus = { ok: true } | { ok: false; code: string; message: string };

/** Probes one data folder; results are cached for `everyMs`. */
export class StorageProbe {
  private last: { at: number; status: StorageStatus } = { at: -Infinity, status: { ok: true } };
  private running: Promise<StorageStatus> | undefined;

  constructor(private readonly dataDir: string, private readonly everyMs = 1000) {}

  /** The folder's current status. */
  async status(): Promise<StorageStatus> {
    if (performance.now() - this.last.at < this.everyMs) return this.last.status;
    this.running ??= this.probe().finally(() => (this.running = undefined));
    return this.running;
  }

  private async probe(): Promise<StorageStatus> {
    const file = join(this.dataDir, '.health-probe');
    let status: StorageStatus = { ok: true };
    try {
      await writeFile(file, Buffer.alloc(4096));
    } catch (e) {
      const s = storageErrorOf(e, this.dataDir);
      status = { ok: false, code: s?.code ?? 'storage_unavailable', message: s?.message ?? (e as Error).message };
    }
    await rm(file, { force: true }).catch(() => undefined);
    this.last = { at: performance.now(), status };
    return status;
  }
}
