/** Small numeric helpers for comparing logit rows in tests (argmax and logSoftmax are the engine's own). */

export { argmax, logSoftmax } from '../../engine/decode/logit-math.js';

/** Row r of a [rows][vocab] logits buffer. */
export function row(data: Float32Array, r: number, vocab: number): Float32Array {
  return data.subarray(r * vocab, (r + 1) * vocab);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

export function maxAbs(a: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]!));
  return d;
}

/** Deterministic pseudo-random token ids in [0, limit). */
export function randomTokens(n: number, seed: number, limit = 151_643): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % limit;
  });
}
