/** Reads `n` bytes of `file` at `offset` (for checking the bytes a writer put in a file). */
import { closeSync, openSync, readSync } from 'node:fs';

export function readBytes(file: string, offset: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, b, 0, n, offset);
  } finally {
    closeSync(fd);
  }
  return b;
}
