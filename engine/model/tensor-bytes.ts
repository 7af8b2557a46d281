/** The bytes of one tensor reference: its in-memory `data` (converted at load), else read from its file. */
import { closeSync, openSync, readSync } from 'node:fs';
import { ModelLoadError } from '../errors.js';
import type { TensorDType, TensorRef } from './model-spec.js';

/** Reads `nbytes` at `offset` of `file` (a ModelLoadError naming file and tensor on a short read). */
export function readFileRange(file: string, offset: number, nbytes: number, tensor?: string): Buffer {
  const buf = Buffer.alloc(nbytes);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot open: ${(err as Error).message}`, file, tensor);
  }
  try {
    for (let done = 0; done < nbytes; ) {
      const n = readSync(fd, buf, done, nbytes - done, offset + done);
      if (n === 0) throw new ModelLoadError(`${file}: short read of tensor '${tensor ?? '?'}' (file truncated?)`, file, tensor);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** A tensor's bytes as the engine will bind them. */
export function tensorBytes(ref: TensorRef<TensorDType>): Uint8Array {
  return ref.data ?? readFileRange(ref.file, ref.offset, ref.nbytes, ref.name);
}
