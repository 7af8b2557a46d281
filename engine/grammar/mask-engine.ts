/**
 * Token masks for sets of byte-level states (`value-matcher.ts`) over a `GrammarVocab`.
 *
 * - General case: the flat token trie is walked depth-first, stepping the state set by each
 *   byte and skipping a whole subtree as soon as the set becomes empty.
 * - Inside a string body the tokens made only of plain content bytes come from precomputed
 *   sets (`plain-masks.ts`), and only the ~1.7k tokens whose first non-plain byte is `"` or `\`
 *   are walked (`body-walk.ts`).
 * - Results are interned per vocabulary (equal masks share one array) and memoized by state
 *   key (LRU).
 * All functions are synchronous and do not mutate the states they are given.
 */
import { LRUCache } from 'lru-cache';
import type { GrammarVocab, FlatTrie } from './vocab.js';
import { BodyWalker } from './body-walk.js';
import { PlainMasks } from './plain-masks.js';
import { setKey, stepSet } from './state-set.js';
import type { Frame, KeyFreeFrame, StrFrame } from './value-matcher.js';

export { setKey, stepBytes, stepSet } from './state-set.js';

/** Counters of the mask engine. */
export interface MaskStats {
  masks: number;
  memoHits: number;
  trieSteps: number;
}

/** Computes masks for state sets of one grammar; holds that grammar's memo. */
export class MaskEngine {
  private readonly memo: LRUCache<string, Uint32Array>;
  private readonly plain: PlainMasks;
  private readonly body: BodyWalker;
  readonly stats: MaskStats = { masks: 0, memoHits: 0, trieSteps: 0 };
  private readonly stack: (Frame[] | null)[] = [];
  private readonly scratch: Uint32Array;

  constructor(readonly vocab: GrammarVocab, memoEntries = 512) {
    this.memo = new LRUCache({ max: memoEntries });
    this.scratch = vocab.newMask();
    this.plain = new PlainMasks(vocab);
    this.body = new BodyWalker(vocab);
  }

  /** Mask of the tokens allowed from `states` (shared between calls and grammars: do not mutate it). */
  mask(states: Frame[]): Uint32Array {
    this.stats.masks++;
    const key = setKey(states);
    const hit = this.memo.get(key);
    if (hit) {
      this.stats.memoHits++;
      return hit;
    }
    const mask = this.scratch.fill(0);
    if (states.every((f) => (f.t === 3 || f.t === 4) && f.s.esc === 0)) {
      // string bodies: plain-content tokens from precomputed sets, the rest by walking the
      // tokens that leave plain content through `"` or `\`
      for (const f of states) {
        if (f.t === 3) or(mask, this.plain.get(f.node, f.s));
        else if (f.t === 4) or(mask, this.plain.get(f.obj.node.keyString, f.s));
      }
      if (states.length === 1) this.stats.trieSteps += this.body.walk(this.vocab.stringExitTrie, states[0] as StrFrame | KeyFreeFrame, mask);
      else this.walk(this.vocab.stringExitTrie, states, mask);
    } else this.walk(this.vocab.trie, states, mask);
    const out = this.vocab.intern(mask);
    this.memo.set(key, out);
    return out;
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
}

function or(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] |= src[i];
}
