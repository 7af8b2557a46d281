/**
 * Token masks for sets of byte-level states (`value-matcher.ts`) over a `GrammarVocab`.
 *
 * - General case: the flat token trie is walked depth-first, stepping the state set by each
 *   byte and skipping a whole subtree as soon as the set becomes empty.
 * - Inside a string body the tokens made only of plain content bytes come from precomputed
 *   sets (per UTF-8 state and remaining length, or per DFA state), and only the ~5k tokens
 *   holding `"`, `\` or control bytes are walked.
 * - Masks are memoized by state key (LRU).
 * All functions are synchronous and do not mutate the states they are given.
 */
import { LRUCache } from 'lru-cache';
import type { GrammarVocab, FlatTrie } from './vocab.js';
import { dedupe, frameKey, step, type Frame } from './value-matcher.js';
import { strStep, utf8Step, type StrInner } from './string-matcher.js';
import type { StringNode } from './schema-node.js';

/** Steps every state of `states` by byte `b`; null when none survives. */
export function stepSet(states: Frame[], b: number, unique = true): Frame[] | null {
  const out: Frame[] = [];
  for (let i = 0; i < states.length; i++) step(states[i], b, out);
  if (out.length === 0) return null;
  return out.length > 1 && (unique || out.length > 8) ? dedupe(out) : out;
}

/** Steps states by a token's bytes; null when the token is not allowed. */
export function stepBytes(states: Frame[], bytes: Uint8Array): Frame[] | null {
  let cur: Frame[] | null = states;
  for (let i = 0; i < bytes.length && cur; i++) cur = stepSet(cur, bytes[i]);
  return cur;
}

/** Key of a state set. */
export function setKey(states: Frame[]): string {
  return states.length === 1 ? frameKey(states[0]) : states.map(frameKey).sort().join('\n');
}


/** Counters of the mask engine. */
export interface MaskStats {
  masks: number;
  memoHits: number;
  trieSteps: number;
}

/** Computes masks for state sets of one grammar; holds that grammar's memo. */
export class MaskEngine {
  private readonly memo: LRUCache<string, Uint32Array>;
  private readonly dfaPlain = new WeakMap<StringNode, Map<string, Uint32Array>>();
  readonly stats: MaskStats = { masks: 0, memoHits: 0, trieSteps: 0 };
  private readonly stack: (Frame[] | null)[] = [];

  constructor(readonly vocab: GrammarVocab, memoEntries = 512) {
    this.memo = new LRUCache({ max: memoEntries });
    plainByLength(vocab, 0, Infinity); // warm the shared set used by every unconstrained string
  }

  /** Mask of the tokens allowed from `states` (a fresh array; do not mutate it). */
  mask(states: Frame[]): Uint32Array {
    this.stats.masks++;
    const key = setKey(states);
    const hit = this.memo.get(key);
    if (hit) {
      this.stats.memoHits++;
      return hit;
    }
    const mask = this.vocab.newMask();
    if (states.every((f) => (f.t === 3 || f.t === 4) && f.s.esc === 0)) {
      // string bodies: plain-content tokens from precomputed sets, the rest by walking
      for (const f of states) {
        if (f.t === 3) or(mask, this.plainMask(f.node, f.s));
        else if (f.t === 4) or(mask, this.plainMask(f.obj.node.keyString, f.s));
      }
      this.walk(this.vocab.nonPlainTrie, states, mask);
    } else this.walk(this.vocab.trie, states, mask);
    this.memo.set(key, mask);
    return mask;
  }

  /** Depth-first walk of `trie` from `states`, setting allowed tokens in `mask`. */
  private walk(trie: FlatTrie, states: Frame[], mask: Uint32Array): void {
    const { byte, depth, end, tok, size } = trie;
    const stack = this.stack;
    stack[0] = states;
    let steps = 0;
    for (let i = 1; i < size; ) {
      const d = depth[i];
      const next = stepSet(stack[d - 1]!, byte[i], false);
      steps++;
      if (!next) {
        i = end[i];
        continue;
      }
      stack[d] = next;
      if (tok[i] >= 0) this.vocab.setToken(mask, tok[i]);
      i++;
    }
    this.stats.trieSteps += steps;
  }

  /** Plain-content tokens allowed inside a string body in state `s`. */
  private plainMask(n: StringNode, s: StrInner): Uint32Array {
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
      if (ok && joint) {
        // joint liveness (several DFAs, or DFA and length bounds): let strStep decide
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

function or(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] |= src[i];
}
