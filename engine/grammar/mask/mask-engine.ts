/**
 * Token masks for sets of byte-level states (`value-matcher.ts`) over a `GrammarVocab`.
 *
 * - General case: the flat token trie is walked depth-first (`trie-walk.ts`).
 * - A set of several states: the union of each state's mask.
 * - Inside a string body the tokens made only of plain content bytes come from precomputed
 *   sets (`plain-masks.ts`), and only the ~1.7k tokens whose first non-plain byte is `"` or `\`
 *   are walked (`body-walk.ts`).
 * - Raw text and XML parameter names (tool calls in the XML form) likewise take plain tokens
 *   from those sets and walk only the tokens that can leave the body (`raw-walk.ts`).
 * - A lone number, or a lone value/object/array frame inside a container, is split into parts
 *   that are shared between states with different stacks (`mask-split.ts`).
 * - Results are interned per vocabulary (equal masks share one array) and memoized by state
 *   key (LRU).
 * All functions are synchronous and do not mutate the states they are given.
 */
import { LRUCache } from 'lru-cache';
import type { GrammarVocab } from './vocab.js';
import { BodyWalker } from './body-walk.js';
import { MaskSplit } from './mask-split.js';
import { numComplete } from '../match/number-matcher.js';
import { PlainMasks } from './plain-masks.js';
import { RawMasks } from './raw-walk.js';
import { setKey } from '../match/state-set.js';
import { TrieWalker } from './trie-walk.js';
import { finish, type Frame } from '../match/value-matcher.js';
import { enterRaw } from '../match/xml-matcher.js';

export { setKey, stepBytes, stepSet } from '../match/state-set.js';

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
  private readonly walker: TrieWalker;
  private readonly split: MaskSplit;
  private readonly raw: RawMasks;
  private readonly counts = { masks: 0, memoHits: 0, bodySteps: 0 };
  private readonly scratch: Uint32Array;

  constructor(readonly vocab: GrammarVocab, memoEntries = 512) {
    this.memo = new LRUCache({ max: memoEntries });
    this.scratch = vocab.newMask();
    this.plain = new PlainMasks(vocab);
    this.body = new BodyWalker(vocab);
    this.walker = new TrieWalker(vocab);
    this.split = new MaskSplit(vocab, this.walker);
    this.raw = new RawMasks(vocab, this.plain, this.walker, this.split);
  }

  get stats(): MaskStats {
    const { masks, memoHits, bodySteps } = this.counts;
    return { masks, memoHits, trieSteps: bodySteps + this.walker.steps };
  }

  /** Mask of the tokens allowed from `states` (shared between calls and grammars: do not mutate it). */
  mask(states: Frame[]): Uint32Array {
    this.counts.masks++;
    const key = setKey(states);
    const hit = this.memo.get(key);
    if (hit) {
      this.counts.memoHits++;
      return hit;
    }
    const mask = states.length === 1 ? this.single(states[0]) : this.union(states);
    const out = this.vocab.intern(mask);
    this.memo.set(key, out);
    return out;
  }

  /**
   * Several states: the union of their masks (a token is allowed when some state accepts it,
   * and states step independently), each memoized on its own. Returns the scratch mask.
   */
  private union(states: Frame[]): Uint32Array {
    const parts = states.map((s) => this.mask([s])); // before the scratch mask is used
    const mask = this.scratch.fill(0);
    for (const p of parts) or(mask, p);
    return mask;
  }

  /** Tokens allowed from one state, in the scratch mask (returned). */
  private single(f: Frame): Uint32Array {
    const raw = enterRaw(f);
    if (raw) return this.mask(raw);
    let after: Uint32Array | null = null;
    if (f.t === 6 && numComplete(f.node, f)) {
      // before the scratch mask is used: this may compute another mask
      const p = finish(f.parent!);
      if (p) after = this.mask([p]);
    }
    const mask = this.scratch.fill(0);
    if (f.t === 6) this.split.number(f, after, mask);
    else if ((f.t === 3 || f.t === 4) && f.s.esc === 0) {
      // a string body: plain-content tokens from precomputed sets, the rest by walking the
      // tokens that leave plain content through `"` or `\`
      or(mask, this.plain.get(f.t === 3 ? f.node : f.obj.node.keyString, f.s));
      this.counts.bodySteps += this.body.walk(this.vocab.stringExitTrie, f, mask);
    } else if (MaskSplit.cuttable(f)) this.split.cut(f, mask);
    else if ((f.t === 11 || f.t === 12) && this.raw.fill(f, mask)) return mask;
    else this.walker.walk(this.vocab.trie, [f], mask);
    return mask;
  }
}

/** dst |= src */
function or(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] |= src[i];
}
