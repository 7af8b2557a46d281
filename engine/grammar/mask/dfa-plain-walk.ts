/**
 * Plain-content tokens (no `"`, `\\`, control byte) allowed inside a string with pattern/format
 * DFAs from one string state: a walk of the whole token trie with the string state in typed
 * arrays, skipping a subtree as soon as its prefix is rejected.
 */
import type { StringNode } from '../schema/schema-node.js';
import { strStep, utf8Step, type StrInner } from '../match/string-matcher.js';
import { reachLiveAt, reachOf } from '../regex/string-reach.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

const MAX_DEPTH = 1024;

/** `UTF8[u * 256 + b]`: `utf8Step(u, b)` as a table. */
const UTF8 = new Int8Array(8 * 256);
for (let u = 0; u < 8; u++) for (let b = 0; b < 256; b++) UTF8[u * 256 + b] = utf8Step(u, b);

/** Per-depth scratch of the walk (depth ≤ MAX_DEPTH; DFA states for up to `ds.length / MAX_DEPTH` DFAs). */
const us = new Int8Array(MAX_DEPTH);
const cs = new Float64Array(MAX_DEPTH);
let ds = new Int32Array(MAX_DEPTH);

/**
 * Sets in `mask` (cleared by the caller) the plain tokens allowed from state `s` of `n`: each
 * byte must keep UTF-8 valid, the code point count within maxLength and every DFA alive; with
 * several DFAs or length bounds, the new state must also still be completable (joint check).
 */
export function dfaPlainWalk(v: GrammarVocab, n: StringNode, s: StrInner, mask: Uint32Array, trie: FlatTrie = v.trie): void {
  const { byte, depth, end, tok, size } = trie;
  const D = n.dfas.length;
  const joint = D > 1 || n.minLength > 0 || n.maxLength !== Infinity;
  const cap = n.maxLength !== Infinity ? n.maxLength + 1 : n.minLength;
  const max = n.maxLength;
  if (ds.length < MAX_DEPTH * D) ds = new Int32Array(MAX_DEPTH * D);
  const reach = joint && D === 1 ? reachOf(n) : null;
  const dfa0 = n.dfas[0];
  us[0] = s.u;
  cs[0] = s.count;
  for (let k = 0; k < D; k++) ds[k] = s.d[k];
  for (let i = 1; i < size; ) {
    const b = byte[i];
    const d = depth[i];
    let ok = !(b === 0x22 || b === 0x5c || b < 0x20) && d < MAX_DEPTH;
    if (ok) {
      const pu = us[d - 1];
      const u = UTF8[pu * 256 + b];
      let c = cs[d - 1];
      if (u < 0) ok = false;
      else if (pu === 0 && ++c > max) ok = false;
      if (ok && D === 1) {
        const q = ds[d - 1];
        let x = dfa0.row(q)[b];
        if (x === -2) x = dfa0.step(q, b);
        if (x < 0) ok = false;
        else {
          ds[d] = x;
          // a DFA and length bounds: same check as strStep's (count capped as there)
          if (reach) ok = reachLiveAt(n, x, Math.min(c, cap), reach);
        }
      } else if (ok) {
        for (let k = 0; ok && k < D; k++) {
          const x = n.dfas[k].step(ds[(d - 1) * D + k], b);
          if (x < 0) ok = false;
          else ds[d * D + k] = x;
        }
        if (ok && joint) {
          // joint liveness (several DFAs): let strStep decide
          const prev: StrInner = { esc: 0, hex: 0, u: pu, count: Math.min(cs[d - 1], cap), d: Array.from(ds.subarray((d - 1) * D, d * D)) };
          ok = strStep(n, prev, b) !== null;
        }
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
}
