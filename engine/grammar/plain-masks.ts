/**
 * Masks of the plain-content tokens (no `"`, `\\`, control byte) allowed inside a string body:
 * per UTF-8 state and remaining length for strings without DFAs (shared per vocabulary), by a
 * typed-array walk of the trie for strings with pattern/format DFAs (cached per string state).
 */
import type { StringNode } from './schema-node.js';
import { reachLiveAt, strStep, utf8Step, type StrInner } from './string-matcher.js';
import type { GrammarVocab } from './vocab.js';

/** Plain-content masks of one grammar. */
export class PlainMasks {
  private readonly dfaPlain = new WeakMap<StringNode, Map<string, Uint32Array>>();

  constructor(readonly vocab: GrammarVocab) {
    plainByLength(vocab, 0, Infinity); // warm the shared set used by every unconstrained string
  }

  /** Plain-content tokens allowed inside a string body of `n` in state `s`. */
  get(n: StringNode, s: StrInner): Uint32Array {
    if (n.dfas.length === 0) return plainByLength(this.vocab, s.u, n.maxLength === Infinity ? Infinity : n.maxLength - s.count);
    let m = this.dfaPlain.get(n);
    if (!m) this.dfaPlain.set(n, (m = new Map()));
    const key = `${s.u},${s.count},${s.d.join('.')}`;
    let mask = m.get(key);
    if (!mask) {
      mask = dfaPlainWalk(this.vocab, n, s);
      if (m.size > 256) m.clear();
      m.set(key, mask);
    }
    return mask;
  }
}

/**
 * Plain-content tokens allowed in a string with DFAs (pattern/format): a walk of the whole trie
 * with the string state in typed arrays (no allocation unless the DFAs need a joint liveness check).
 */
function dfaPlainWalk(v: GrammarVocab, n: StringNode, s: StrInner): Uint32Array {
  const mask = v.newMask();
  const { byte, depth, end, tok, size } = v.trie;
  const D = n.dfas.length;
  const joint = D > 1 || n.minLength > 0 || n.maxLength !== Infinity;
  const maxDepth = 1024;
  const us = new Int8Array(maxDepth);
  const cs = new Float64Array(maxDepth);
  const ds = new Int32Array(maxDepth * D);
  us[0] = s.u;
  cs[0] = s.count;
  for (let k = 0; k < D; k++) ds[k] = s.d[k];
  for (let i = 1; i < size; ) {
    const b = byte[i];
    const d = depth[i];
    let ok = !(b === 0x22 || b === 0x5c || b < 0x20) && d < maxDepth;
    if (ok) {
      const pu = us[d - 1];
      const u = utf8Step(pu, b);
      let c = cs[d - 1];
      if (u < 0) ok = false;
      else if (pu === 0) {
        c++;
        if (c > n.maxLength) ok = false;
      }
      for (let k = 0; ok && k < D; k++) {
        const x = n.dfas[k].step(ds[(d - 1) * D + k], b);
        if (x < 0) ok = false;
        else ds[d * D + k] = x;
      }
      if (ok && joint && D === 1) {
        // a DFA and length bounds: same check as strStep's (count capped as there)
        ok = reachLiveAt(n, ds[d], Math.min(c, n.maxLength !== Infinity ? n.maxLength + 1 : n.minLength));
      } else if (ok && joint) {
        // joint liveness (several DFAs): let strStep decide
        const cap = n.maxLength !== Infinity ? n.maxLength + 1 : n.minLength;
        const prev: StrInner = { esc: 0, hex: 0, u: pu, count: Math.min(cs[d - 1], cap), d: Array.from(ds.subarray((d - 1) * D, d * D)) };
        ok = strStep(n, prev, b) !== null;
      }
      us[d] = u;
      cs[d] = c;
    }
    if (!ok) {
      i = end[i];
      continue;
    }
    if (tok[i] >= 0) v.setToken(mask, tok[i]);
    i++;
  }
  return mask;
}

/** Per UTF-8 state: plain tokens valid from it, bucketed by code point count. */
const plainBuckets = new WeakMap<GrammarVocab, Map<number, { byCount: Int32Array[]; masks: Uint32Array[] }>>();

/**
 * Plain tokens valid as string content from UTF-8 state `u` that start at most `room`
 * code points (shared per vocabulary; one mask per room value, built on first use).
 */
function plainByLength(v: GrammarVocab, u: number, room: number): Uint32Array {
  let perU = plainBuckets.get(v);
  if (!perU) plainBuckets.set(v, (perU = new Map()));
  let e = perU.get(u);
  if (!e) {
    const lists: number[][] = Array.from({ length: 256 }, () => []);
    for (const id of v.plain) {
      let st = u;
      const bs = v.bytes[id];
      for (let k = 0; k < bs.length && st >= 0; k++) st = utf8Step(st, bs[k]);
      if (st >= 0) lists[v.charCount[id]].push(id);
    }
    e = { byCount: lists.map((l) => Int32Array.from(l)), masks: [] };
    perU.set(u, e);
  }
  const r = room >= 255 ? 255 : Math.max(0, room);
  if (!e.masks[r]) {
    const mask = v.newMask();
    for (let k = 0; k <= r; k++) for (const id of e.byCount[k]) mask[id >>> 5] |= 1 << (id & 31);
    e.masks[r] = mask;
  }
  return e.masks[r];
}
