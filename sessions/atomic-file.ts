/** Atomic file replacement: write temp, fsync, rename, fsync the directory. */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** fsyncs a directory so a rename/create/unlink inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `file` atomically from a sequence of chunks: after a crash the file is either the old
 * version or the complete new one. Chunks may be produced lazily (large KV snapshots).
 */
export async function writeFileAtomic(
  file: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<number> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${++counter}.tmp`);
  const fh = await open(tmp, 'w');
  let bytes = 0;
  try {
    for await (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) {
        const { bytesWritten } = await fh.write(c, off, c.byteLength - off);
        off += bytesWritten;
      }
      bytes += c.byteLength;
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, file);
  await fsyncDir(dir);
  return bytes;
}

/** True for the temp files writeFileAtomic leaves behind after a crash. */
export function isAtomicTemp(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
