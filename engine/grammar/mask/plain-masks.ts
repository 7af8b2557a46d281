/**
 * Masks of the plain-content tokens (no `"`, `\\`, control byte) allowed inside a string body.
 * Strings without DFAs: per UTF-8 state and remaining length. Strings with pattern/format DFAs:
 * per (DFAs, length bounds, string state), by a trie walk (`dfa-plain-walk.ts`), directly as
 * the DFA-free set when the DFA state accepts every continuation, from the DFA-free set and a
 * small walk for table DFAs (`table-dfa-masks.ts`), or as the DFA-free set by length and the
 * unbounded set intersected when the DFAs never stop a string (filters). All are shared per
 * vocabulary by every grammar (a DFA is one object per pattern source, see `patternDfa`).
 */
import type { ByteDfa } from '../regex/byte-dfa.js';
import { dfaPlainWalk } from './dfa-plain-walk.js';
import { tableDfaPlainMask } from './table-dfa-masks.js';
import { dfaId } from '../schema/node-sig.js';
import type { StringNode } from '../schema/schema-node.js';
import { utf8Step, type StrInner } from '../match/string-matcher.js';
import type { GrammarVocab } from './vocab.js';

/** Plain-content masks over one vocabulary. */
export class PlainMasks {
  constructor(readonly vocab: GrammarVocab) {
    plainByLength(vocab, 0, Infinity); // warm the shared set used by every unconstrained string
  }

  /** Plain-content tokens allowed inside a string body of `n` in state `s` (shared: do not mutate). */
  get(n: StringNode, s: StrInner): Uint32Array {
    if (n.dfas.length === 0) return plainByLength(this.vocab, s.u, n.maxLength === Infinity ? Infinity : n.maxLength - s.count);
    const v = this.vocab;
    let m = dfaMasks.get(v);
    if (!m) dfaMasks.set(v, (m = new Map()));
    const key = `${signature(n)}|${s.u},${s.count},${s.d.join('.')}`;
    let mask = m.get(key);
    if (!mask) {
      if (n.dfas.length === 1 && n.minLength === 0 && n.maxLength === Infinity && universal(n.dfas[0], s.d[0], s.u)) {
        mask = plainByLength(v, s.u, Infinity);
      } else if ((n.minLength > 0 || n.maxLength !== Infinity) && n.dfas.every(prefixClosed)) {
        // the DFAs never stop a string from ending or growing: they and the length bounds
        // constrain plain tokens independently (saves a walk per code point count)
        const free = this.get(unbounded(n), { ...s, count: 0, key: undefined });
        const byLength = plainByLength(v, s.u, n.maxLength === Infinity ? Infinity : n.maxLength - s.count);
        const scratch = scratchOf(v);
        for (let i = 0; i < scratch.length; i++) scratch[i] = free[i] & byLength[i];
        mask = v.intern(scratch);
      } else {
        const scratch = scratchOf(v);
        const table = n.dfas.length === 1 && n.dfas[0].complete && n.minLength === 0 && n.maxLength === Infinity;
        if (!table || !tableDfaPlainMask(v, n, s, plainByLength(v, s.u, Infinity), scratch)) dfaPlainWalk(v, n, s, scratch.fill(0));
        mask = v.intern(scratch);
      }
      if (m.size >= MAX_DFA_MASKS) m.clear();
      m.set(key, mask);
    }
    return mask;
  }
}

/** Cached DFA plain masks per vocabulary (most are shared interned arrays). */
const MAX_DFA_MASKS = 4096;
const dfaMasks = new WeakMap<GrammarVocab, Map<string, Uint32Array>>();
/** Walk output buffers (copied by `intern`). */
const scratches = new WeakMap<GrammarVocab, Uint32Array>();

function scratchOf(v: GrammarVocab): Uint32Array {
  let s = scratches.get(v);
  if (!s) scratches.set(v, (s = v.newMask()));
  return s;
}

const closedMemo = new WeakMap<ByteDfa, boolean>();

/**
 * True for a complete (table) DFA whose every state accepts and continues by some printable
 * ASCII byte (e.g. a filter avoiding substrings): it never stops a string from ending or growing.
 */
function prefixClosed(d: ByteDfa): boolean {
  let r = closedMemo.get(d);
  if (r === undefined) {
    r = d.complete;
    for (let q = 0; q < d.size && r; q++) {
      let grows = false;
      for (let b = 0x20; b < 0x7f && !grows; b++) grows = b !== 0x22 && b !== 0x5c && d.step(q, b) >= 0;
      r = d.accepting[q] === 1 && grows;
    }
    closedMemo.set(d, r);
  }
  return r;
}

const unboundedTwins = new WeakMap<StringNode, StringNode>();

/** `n` without length bounds (one twin per node, so its masks are memoized). */
function unbounded(n: StringNode): StringNode {
  let t = unboundedTwins.get(n);
  if (!t) unboundedTwins.set(n, (t = { ...n, minLength: 0, maxLength: Infinity }));
  return t;
}

const signatures = new WeakMap<StringNode, string>();

/** What a string node's plain masks depend on: its DFAs (by identity) and length bounds. */
function signature(n: StringNode): string {
  let sig = signatures.get(n);
  if (sig === undefined) signatures.set(n, (sig = `${n.dfas.map(dfaId).join(',')}|${n.minLength}|${n.maxLength}`));
  return sig;
}

const universalMemo = new WeakMap<ByteDfa, Map<number, boolean>>();
/** Pairs explored by `universal` before giving up (answering false). */
const UNIVERSAL_LIMIT = 256;

/**
 * True when from DFA state `q` and UTF-8 state `u` every plain content byte that keeps UTF-8
 * valid keeps the DFA alive, at every (state, UTF-8 state) pair reachable that way: then the
 * allowed plain tokens are exactly those of a string without DFAs.
 */
function universal(dfa: ByteDfa, q: number, u: number): boolean {
  let memo = universalMemo.get(dfa);
  if (!memo) universalMemo.set(dfa, (memo = new Map()));
  const key = q * 8 + u;
  let r = memo.get(key);
  if (r !== undefined) return r;
  const seen = new Set<number>([key]);
  const queue = [key];
  r = true;
  for (let qi = 0; qi < queue.length && r; qi++) {
    if (queue.length > UNIVERSAL_LIMIT) r = false;
    const cq = queue[qi] >> 3;
    const cu = queue[qi] & 7;
    for (let b = 0x20; b < 0x100 && r; b++) {
      if (b === 0x22 || b === 0x5c) continue;
      const nu = utf8Step(cu, b);
      if (nu < 0) continue;
      const nq = dfa.step(cq, b);
      const nk = nq * 8 + nu;
      if (nq < 0) r = false;
      else if (memo.get(nk) === false) r = false;
      else if (!seen.has(nk) && !memo.get(nk)) seen.add(nk), queue.push(nk);
    }
  }
  // on success every pair explored is universal too (what it reaches was explored or known)
  if (r) for (const k of seen) memo.set(k, true);
  else memo.set(key, false);
  return r;
}

/** Per UTF-8 state: plain tokens valid from it, bucketed by code point count; masks by room. */
const plainBuckets = new WeakMap<GrammarVocab, Map<number, { byCount: Int32Array[]; masks: Uint32Array[] }>>();

/**
 * Plain tokens valid as string content from UTF-8 state `u` that start at most `room`
 * code points (shared per vocabulary; built on first use from the nearest room built before,
 * adding or clearing the buckets between, whichever holds fewer tokens).
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
  if (e.masks[r]) return e.masks[r];
  const { byCount, masks } = e;
  // nearest built rooms below (lo) and above (hi), with the tokens between each and r
  let lo = r - 1;
  let add = byCount[r].length;
  while (lo >= 0 && !masks[lo]) add += byCount[lo--].length;
  let hi = r + 1;
  let drop = 0;
  while (hi <= 255 && !masks[hi]) drop += byCount[hi++].length;
  if (hi <= 255) drop += byCount[hi].length;
  let mask: Uint32Array;
  if (hi <= 255 && (lo < 0 || drop < add)) {
    mask = masks[hi].slice();
    for (let k = r + 1; k <= hi; k++) for (const id of byCount[k]) mask[id >>> 5] &= ~(1 << (id & 31));
  } else {
    mask = lo >= 0 ? masks[lo].slice() : v.newMask();
    for (let k = lo + 1; k <= r; k++) for (const id of byCount[k]) mask[id >>> 5] |= 1 << (id & 31);
  }
  masks[r] = mask;
  return mask;
}
