/**
 * Length-aware liveness for string nodes with one DFA: per DFA state, the set of code point
 * counts with which the content can still reach an accepting state. Depends only on the DFA
 * and the count cap, so it is shared by every node (and grammar) with the same DFA and bounds.
 */
import type { ByteDfa } from './byte-dfa.js';
import type { StringNode } from '../schema/schema-node.js';

export interface Reach {
  /** Cap: counts >= C are recorded as C. */
  C: number;
  /** Per DFA state: bit k set when k more code points (k capped at C) can complete a match; undefined beyond the explored part. */
  bits: (Uint32Array | undefined)[];
}

const reachMemo = new WeakMap<ByteDfa, Map<number, Reach>>();
/** DFA states explored per reach table; states beyond are assumed live. */
const REACH_STATES = 5000;

/**
 * Per DFA state, the remaining code point counts (capped at C) that can complete a match,
 * found by a backward worklist over the DFA's content-byte transitions (word-wise bit sets).
 */
function lengthReach(dfa: ByteDfa, C: number): Reach {
  let perC = reachMemo.get(dfa);
  if (!perC) reachMemo.set(dfa, (perC = new Map()));
  let r = perC.get(C);
  if (r) return r;
  const words = (C >> 5) + 1;
  const order = [0];
  const index = new Map<number, number>([[0, 0]]);
  const preds: [number, number][][] = [[]];
  for (let qi = 0; qi < order.length && order.length < REACH_STATES; qi++) {
    const q = order[qi];
    const seen = new Set<number>();
    for (let b = 0x20; b < 0x100; b++) {
      if (b === 0x22 || b === 0x5c) continue;
      const t = dfa.step(q, b);
      if (t < 0) continue;
      const lead = (b & 0xc0) !== 0x80 ? 1 : 0;
      if (seen.has(t * 2 + lead)) continue;
      seen.add(t * 2 + lead);
      if (!index.has(t)) index.set(t, order.length), order.push(t), preds.push([]);
      preds[index.get(t)!].push([qi, lead]);
    }
  }
  const sets = order.map(() => new Uint32Array(words));
  const work: number[] = [];
  order.forEach((q, i) => {
    if (dfa.accepting[q]) (sets[i][0] |= 1), work.push(i);
  });
  const last = words - 1;
  const lastBit = 1 << (C & 31);
  const lowMask = (C & 31) === 31 ? ~0 : lastBit * 2 - 1; // bits 0..C of the last word
  while (work.length) {
    const x = work.pop()!;
    const src = sets[x];
    for (const [p, lead] of preds[x]) {
      // dst |= src shifted by `lead` (bit k → bit min(C, k + lead))
      const dst = sets[p];
      let changed = false;
      for (let w = 0; w < words; w++) {
        let v = lead ? (src[w] << 1) | (w > 0 ? src[w - 1] >>> 31 : 0) : src[w];
        if (w === last) v = (v & lowMask) | (src[w] & lastBit);
        v = (dst[w] | v) >>> 0;
        if (v !== dst[w]) (dst[w] = v), (changed = true);
      }
      if (changed) work.push(p);
    }
  }
  const bits: (Uint32Array | undefined)[] = [];
  order.forEach((q, i) => (bits[q] = sets[i]));
  r = { C, bits };
  perC.set(C, r);
  return r;
}

/** The reach table of a single-DFA node. */
export function reachOf(n: StringNode): Reach {
  return lengthReach(n.dfas[0], Math.max(n.minLength, n.maxLength === Infinity ? 0 : n.maxLength) + 1);
}

/** For a single-DFA node: can content in DFA state `q` with `count` code points still be completed? */
export function reachLiveAt(n: StringNode, q: number, count: number, r = reachOf(n)): boolean {
  const b = r.bits[q];
  if (!b) return true; // beyond the explored part: cannot decide, assume live
  const lo = Math.max(0, n.minLength - count);
  const hi = n.maxLength === Infinity ? r.C : Math.min(r.C, n.maxLength - count);
  if (lo > hi) return false;
  const wl = lo >> 5;
  const wh = hi >> 5;
  for (let w = wl; w <= wh; w++) {
    let v = b[w];
    if (w === wl) v &= ~0 << (lo & 31);
    if (w === wh && (hi & 31) !== 31) v &= (1 << ((hi & 31) + 1)) - 1;
    if (v !== 0) return true;
  }
  return false;
}
