/** Partial selection over a vocabulary row: the k best entries without sorting the whole row. */
import { logSumExp } from './logit-math.js';

/** Top-k (ids, values) of `v` (−∞ entries skipped), best first, ties by lower id. Partial selection with a k-heap. */
export function selectTop(v: Float32Array, k: number): { ids: Int32Array; vals: Float32Array } {
  const hid = new Int32Array(k);
  const hv = new Float32Array(k);
  let n = 0;
  // min-heap on (value asc, id desc): the root is the weakest kept entry
  const weaker = (a: number, b: number) => hv[a]! < hv[b]! || (hv[a] === hv[b] && hid[a]! > hid[b]!);
  const swap = (a: number, b: number) => {
    const ti = hid[a]!, tv = hv[a]!;
    hid[a] = hid[b]!;
    hv[a] = hv[b]!;
    hid[b] = ti;
    hv[b] = tv;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && weaker(l, m)) m = l;
      if (r < n && weaker(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x === -Infinity) continue;
    if (n < k) {
      hid[n] = i;
      hv[n] = x;
      let c = n++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!weaker(c, p)) break;
        swap(c, p);
        c = p;
      }
    } else if (x > hv[0]!) {
      hid[0] = i;
      hv[0] = x;
      down(0);
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => hv[b]! - hv[a]! || hid[a]! - hid[b]!);
  return { ids: Int32Array.from(order, (i) => hid[i]!), vals: Float32Array.from(order, (i) => hv[i]!) };
}

/** Log-softmax (float64 normaliser) of `logits`, top `k` entries best first (ties by lower id). For `resident score`. */
export function logSoftmaxTopK(logits: Float32Array, k: number): { id: number; logprob: number }[] {
  const lse = logSumExp(logits);
  const { ids, vals } = selectTop(logits, Math.min(k, logits.length));
  return Array.from(ids, (id, i) => ({ id, logprob: vals[i]! - lse }));
}
