/**
 * Atomic file replacement, the one way persisted files are written: a fresh temp file beside the
 * target (`.<name>.<12 hex>.tmp`, created O_EXCL), fsync, rename over the target, fsync the folder.
 * After a crash the target is either the old file or the whole new one; a leftover temp matches
 * isAtomicTemp. See docs/formats.md.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The new content: whole, or as chunks produced lazily (a chunk's buffer may be reused once the next is asked for). */
export type AtomicContent = string | Uint8Array | Iterable<Uint8Array>;

export interface AtomicWriteOptions {
  /** Mode of the new file (before the umask; default 0o666). */
  mode?: number;
}

const tempPath = (file: string) => join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);

/** Whole content as one chunk; chunk sources as they are. */
const chunksOf = <T>(data: string | Uint8Array | T): Uint8Array[] | Exclude<T, string | Uint8Array> =>
  typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : (data as Exclude<T, string | Uint8Array>);

/** True for the temp files an atomic write leaves behind after a crash. */
export function isAtomicTemp(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** fsyncs a folder so a rename, create or unlink inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a file or folder, synchronously (a folder: as fsyncDir). */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` atomically with `data` (chunks may come from an async generator); returns the bytes written. */
export async function writeFileAtomic(file: string, data: AtomicContent | AsyncIterable<Uint8Array>, o: AtomicWriteOptions = {}): Promise<number> {
  const tmp = tempPath(file);
  const fh = await open(tmp, 'wx', o.mode ?? 0o666);
  let bytes = 0;
  try {
    for await (const c of chunksOf(data)) {
      for (let off = 0; off < c.byteLength; ) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
      bytes += c.byteLength;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(file));
  return bytes;
}

/** writeFileAtomic, synchronous (model generation writes synchronously). */
export function writeFileAtomicSync(file: string, data: AtomicContent, o: AtomicWriteOptions = {}): number {
  const tmp = tempPath(file);
  const fd = openSync(tmp, 'wx', o.mode ?? 0o666);
  let bytes = 0;
  let fdOpen = true;
  try {
    for (const c of chunksOf(data)) {
      for (let off = 0; off < c.byteLength; ) off += writeSync(fd, c, off, c.byteLength - off);
      bytes += c.byteLength;
    }
    fsyncSync(fd);
    fdOpen = false;
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    if (fdOpen) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPathSync(dirname(file));
  return bytes;
}
