/**
 * Masks of lone states built from parts that do not depend on the whole state stack, so they
 * are shared between states that differ only below some frame:
 * - a number: its continuations (walked) plus, when it may end, the mask of the state after it
 *   restricted to tokens whose first byte cannot continue the number (`step` on a number frame
 *   goes to the state after it exactly for those bytes);
 * - a value, object or array frame `f` inside a container P: the part of the walk where every
 *   state still lies above P does not depend on P, so it is memoized by `f`'s own key, with
 *   the trie nodes where some state leaves P's value ("exits"); those subtrees are walked again
 *   with the actual states.
 */
import { nodeSig } from '../schema/node-sig.js';
import { numStep } from '../match/number-matcher.js';
import type { Node } from '../schema/schema-node.js';
import { stepBytes, stepSet } from '../match/state-set.js';
import { frameKey, type Frame, type NumFrameT } from '../match/value-matcher.js';
import { strKey } from '../match/string-matcher.js';
import type { TrieWalker } from './trie-walk.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

/** The only bytes that can continue a number. */
const NUM_BYTES = [0x2b, 0x2d, 0x2e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x45, 0x65];

/** The walk above a container: tokens that stay above it, and where states leave it. */
interface Above {
  mask: Uint32Array;
  /** Trie nodes where a state first leaves the container on some path, with the path's bytes. */
  exits: { node: number; bytes: Uint8Array }[];
}

/** Walks above containers kept per memo (per grammar, and shared per vocabulary). */
const MAX_ABOVE = 1024;
const sharedAbove = new WeakMap<GrammarVocab, Map<string, Above>>();

/**
 * The part of `f`'s key above its parent with nodes by structural signature (the same in
 * every grammar), or null when a node has no signature. Fields as in `frameKey`.
 */
function structuralKey(f: Frame): string | null {
  const sig = nodeSig((f as { node: Node }).node);
  if (sig === null) return null;
  if (f.t === 1) return `V${sig},${f.ws}`;
  if (f.t === 12) return `R${sig},${strKey(f.s)}`;
  if (f.t === 8) return `A${sig},${f.phase},${f.ws},${f.count}`;
  if (f.t !== 7) return null;
  const cur = f.cur ? nodeSig(f.cur) : '';
  return cur === null ? null : `O${sig},${f.phase},${f.ws},${f.seen.join('.')},${f.extra.join('\u0000')},${cur}`;
}

/** Per vocabulary: tokens by first-byte selection (see `MaskSplit.firstBytes`). */
const fbMemo = new WeakMap<GrammarVocab, Map<number, Uint32Array>>();

/** The frame below `g` (key frames hang off their object). */
const below = (g: Frame): Frame | null => (g.t === 4 || g.t === 5 ? g.obj : g.parent);

/** True when `p` is strictly below `g` on its stack. */
function over(g: Frame, p: Frame): boolean {
  for (let x = below(g); x; x = below(x)) if (x === p) return true;
  return false;
}

/**
 * Split mask computations of one grammar; holds its memo of walks above containers for frames
 * without a structural key (the others are shared per vocabulary).
 */
export class MaskSplit {
  private readonly above = new Map<string, Above>();
  private readonly stack: Frame[][] = [];
  private readonly path = new Uint8Array(1024);

  constructor(readonly vocab: GrammarVocab, readonly walker: TrieWalker) {}

  /** True when `f` is a lone state `cut` handles: a value, object or array frame inside a container. */
  static cuttable(f: Frame): boolean {
    return (f.t === 1 || f.t === 7 || f.t === 8) && f.parent !== null && f.parent.t !== 0;
  }

  /**
   * Sets in `mask` (cleared) the tokens allowed from number frame `f`; `after` is the mask of
   * the state after the number when it may end here, else null.
   */
  number(f: NumFrameT, after: Uint32Array | null, mask: Uint32Array): void {
    let cont = 0;
    for (let k = 0; k < NUM_BYTES.length; k++) if (numStep(f.node, f, NUM_BYTES[k])) cont |= 1 << k;
    if (after) {
      const fb = this.firstBytes(cont);
      for (let w = 0; w < mask.length; w++) mask[w] = after[w] & ~fb[w];
    }
    if (!cont) return;
    const trie = this.vocab.trie;
    const { byte, end, tok, size } = trie;
    for (let c = 1; c < size; c = end[c]) {
      const k = NUM_BYTES.indexOf(byte[c]);
      if (k < 0 || !((cont >> k) & 1)) continue;
      const next = stepSet([f], byte[c], false)!;
      if (tok[c] >= 0) this.vocab.setToken(mask, tok[c]);
      this.walker.walk(trie, next, mask, c + 1, end[c]);
    }
  }

  /** Tokens whose first byte is one of the NUM_BYTES selected by bits `cont` (shared per vocabulary). */
  private firstBytes(cont: number): Uint32Array {
    let memo = fbMemo.get(this.vocab);
    if (!memo) fbMemo.set(this.vocab, (memo = new Map()));
    let m = memo.get(cont);
    if (!m) {
      m = this.vocab.newMask();
      const { byte, end, tok, size } = this.vocab.trie;
      for (let c = 1; c < size; c = end[c]) {
        const k = NUM_BYTES.indexOf(byte[c]);
        if (k < 0 || !((cont >> k) & 1)) continue;
        for (let j = c; j < end[c]; j++) if (tok[j] >= 0) this.vocab.setToken(m, tok[j]);
      }
      memo.set(cont, m);
    }
    return m;
  }

  /**
   * Sets in `mask` (cleared) the tokens of `trie` allowed from lone frame `f` (see `cuttable`;
   * also raw-text frames, over their exit trie: `raw-walk.ts`). The walk above is memoized
   * per key, which must determine the trie: raw frames' keys start with `R`.
   */
  cut(f: Frame, mask: Uint32Array, trie: FlatTrie = this.vocab.trie): void {
    const p = f.parent!;
    // shared between grammars under the structural key, else within this grammar by own key
    let own = structuralKey(f);
    let memo = sharedAbove.get(this.vocab);
    if (!memo) sharedAbove.set(this.vocab, (memo = new Map()));
    if (own === null) {
      const key = frameKey(f);
      own = key.slice(0, key.length - frameKey(p).length - 1);
      memo = this.above;
    }
    let a = memo.get(own);
    if (!a) {
      a = this.walkAbove(trie, f, p, mask);
      if (memo.size >= MAX_ABOVE) memo.clear();
      memo.set(own, a);
    } else mask.set(a.mask);
    const { end, tok } = trie;
    for (const e of a.exits) {
      const st = stepBytes([f], e.bytes);
      const out = st && st.filter((g) => !over(g, p));
      if (!out || !out.length) continue;
      if (tok[e.node] >= 0) this.vocab.setToken(mask, tok[e.node]);
      this.walker.walk(trie, out, mask, e.node + 1, end[e.node]);
    }
  }

  /** Walks `trie` from `f` keeping only states above `p`; fills `mask` with the tokens that stay above. */
  private walkAbove(trie: FlatTrie, f: Frame, p: Frame, mask: Uint32Array): Above {
    const { byte, depth, end, tok, size } = trie;
    const { stack, path } = this;
    const exits: Above['exits'] = [];
    stack[0] = [f];
    for (let i = 1; i < size; ) {
      const d = depth[i];
      path[d] = byte[i];
      let next = stepSet(stack[d - 1], byte[i], false);
      this.walker.steps++;
      if (next && !next.every((g) => over(g, p))) {
        exits.push({ node: i, bytes: path.slice(1, d + 1) });
        next = next.filter((g) => over(g, p));
      }
      if (!next || !next.length) {
        i = end[i];
        continue;
      }
      stack[d] = next;
      if (tok[i] >= 0) this.vocab.setToken(mask, tok[i]);
      i++;
    }
    return { mask: this.vocab.intern(mask), exits };
  }
}
