/** Whole-row arithmetic on a logits (or log-prob) row: greedy choice and log-softmax. */

/**
 * Index of the largest entry, the lowest index on ties; NaN entries are never chosen. When no entry
 * is above −∞ (an empty row, or everything masked) it returns 0: callers that must tell check the value.
 */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** log Σ exp(x[i]) in float64, shifted by the maximum so no term overflows. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** Full-row log-softmax in float64: out[i] = x[i] − logSumExp(x). */
export function logSoftmax(x: ArrayLike<number>): Float64Array {
  const lse = logSumExp(x);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - lse;
  return out;
}
