/**
 * Plain-content masks of unbounded strings with one complete (table) DFA, e.g. the XML value
 * filters. From a DFA state q, a byte that kills no state reachable from q never ends a string:
 * a token without such "kill bytes" is allowed exactly when it is plain content from the
 * UTF-8 state. So the mask is the DFA-free set minus the tokens holding a kill byte, plus those
 * of them a walk of their (small) trie allows. Falls back (null) when kill bytes are common.
 */
import type { ByteDfa } from '../regex/byte-dfa.js';
import type { StrInner } from '../match/string-matcher.js';
import type { StringNode } from '../schema/schema-node.js';
import { dfaPlainWalk } from './dfa-plain-walk.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

/** 1 for the bytes of JSON-plain string content. */
const JSON_PLAIN = new Uint8Array(256).map((_, b) => (b >= 0x20 && b !== 0x22 && b !== 0x5c ? 1 : 0));
/** Tokens with kill bytes beyond this share of the vocabulary: walk the whole trie instead. */
const MAX_SHARE = 0.1;

const kills = new WeakMap<ByteDfa, Map<number, number[]>>();

/** Plain bytes that lead to the dead state from some state reachable from `q` (sorted). */
function killBytes(d: ByteDfa, q: number): number[] {
  let m = kills.get(d);
  if (!m) kills.set(d, (m = new Map()));
  let out = m.get(q);
  if (!out) {
    const seen = new Set([q]);
    const found = new Set<number>();
    for (const r of seen) {
      for (let b = 0x20; b < 0x100; b++) {
        if (!JSON_PLAIN[b]) continue;
        const t = d.step(r, b);
        if (t < 0) found.add(b);
        else seen.add(t);
      }
    }
    m.set(q, (out = [...found].sort((a, b) => a - b)));
  }
  return out;
}

interface KillSet {
  trie: FlatTrie;
  /** Tokens of `trie`. */
  mask: Uint32Array;
}
const killSets = new WeakMap<GrammarVocab, Map<string, KillSet | null>>();

/** The tokens holding one of `bytes` in their plain prefix, as a trie and a mask (per vocabulary); null when too many. */
function killSet(v: GrammarVocab, bytes: number[]): KillSet | null {
  let m = killSets.get(v);
  if (!m) killSets.set(v, (m = new Map()));
  const key = bytes.join(',');
  let k = m.get(key);
  if (k === undefined) {
    const plain = JSON_PLAIN.slice();
    for (const b of bytes) plain[b] = 0;
    let n = 0;
    for (const id of v.plain) if (v.bytes[id].some((x) => !plain[x])) n++;
    k = null;
    if (n <= MAX_SHARE * v.bytes.length) {
      const trie = v.exitTrie(`kill:${key}`, plain, bytes);
      const mask = v.newMask();
      for (let i = 1; i < trie.size; i++) if (trie.tok[i] >= 0) v.setToken(mask, trie.tok[i]);
      k = { trie, mask };
    }
    m.set(key, k);
  }
  return k;
}

/**
 * Sets in `out` the plain tokens allowed from state `s` of `n` (one complete DFA, no length
 * bounds), given `free`, the DFA-free plain set of `s`'s UTF-8 state. False (out untouched)
 * when the kill bytes of the state are too common for this to pay.
 */
export function tableDfaPlainMask(v: GrammarVocab, n: StringNode, s: StrInner, free: Uint32Array, out: Uint32Array): boolean {
  const ks = killSet(v, killBytes(n.dfas[0], s.d[0]));
  if (!ks) return false;
  for (let i = 0; i < out.length; i++) out[i] = free[i] & ~ks.mask[i];
  dfaPlainWalk(v, n, s, out, ks.trie);
  return true;
}
