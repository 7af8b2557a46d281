/**
 * The general mask walk: depth-first over a flat token trie, stepping matcher state sets by
 * each byte and skipping a whole subtree as soon as the set becomes empty.
 */
import { stepSet } from '../match/state-set.js';
import type { Frame } from '../match/value-matcher.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

/** Walks tries from state sets; holds the per-depth stack (not reentrant). */
export class TrieWalker {
  private readonly stack: (Frame[] | null)[] = [];
  /** Trie nodes stepped so far. */
  steps = 0;

  constructor(readonly vocab: GrammarVocab) {}

  /**
   * Sets in `mask` the tokens of nodes [lo, hi) allowed from `states`, where [lo, hi) is the
   * whole trie (lo = 1) or the subtree below the parent of node lo, and `states` is the set
   * at that parent (the bytes above it already consumed).
   */
  walk(trie: FlatTrie, states: Frame[], mask: Uint32Array, lo = 1, hi = trie.size): void {
    if (lo >= hi) return;
    const { byte, depth, end, tok } = trie;
    const stack = this.stack;
    stack[depth[lo] - 1] = states;
    let steps = 0;
    for (let i = lo; i < hi; ) {
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
    this.steps += steps;
  }
}
