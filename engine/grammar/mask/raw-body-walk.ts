/**
 * Mask walk from a raw-text state (`RawFrame`) whose string has one complete (table) DFA and no
 * length bounds — XML values filtered by `avoidDfa` / `notJsonDfa` — over the tokens that may
 * leave plain content. Content is stepped as (UTF-8 state, DFA state) in typed arrays; wherever
 * the text may end, the walk also follows what comes after it with full matcher states, in
 * parallel (a newline can be content or the start of `\n</parameter>`).
 */
import { stepSet } from '../match/state-set.js';
import { utf8Step } from '../match/string-matcher.js';
import { finish, step, type Frame, type RawFrame } from '../match/value-matcher.js';
import type { FlatTrie, GrammarVocab } from './vocab.js';

const MAX_DEPTH = 1024;

/** `UTF8[u * 256 + b]`: `utf8Step(u, b)` as a table. */
const UTF8 = new Int8Array(8 * 256);
for (let u = 0; u < 8; u++) for (let b = 0; b < 256; b++) UTF8[u * 256 + b] = utf8Step(u, b);

/** Raw content bytes: not a control byte other than tab, LF, CR. */
const CONTENT = new Uint8Array(256).map((_, b) => (b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d ? 1 : 0));

/** True when `f` can be walked here: one complete DFA, no length bounds. */
export function rawWalkable(f: RawFrame): boolean {
  const n = f.node.str;
  return n.dfas.length === 1 && n.dfas[0].complete && n.minLength === 0 && n.maxLength === Infinity;
}

/** Walks raw-text states; holds the per-depth scratch arrays. */
export class RawBodyWalker {
  private readonly us = new Int8Array(MAX_DEPTH);
  private readonly qs = new Int32Array(MAX_DEPTH);
  private readonly after: (Frame[] | null)[] = [];

  constructor(readonly vocab: GrammarVocab) {}

  /** Sets in `mask` the tokens of `trie` allowed from `f` (see `rawWalkable`). */
  walk(trie: FlatTrie, f: RawFrame, mask: Uint32Array): void {
    const { byte, depth, end, tok, size } = trie;
    const { us, qs, after } = this;
    const dfa = f.node.str.dfas[0];
    const closed = finish(f.parent!);
    // us[d] < 0: the content branch is dead at depth d; after[d]: states past the text
    us[0] = f.s.u;
    qs[0] = f.s.d[0];
    after[0] = null;
    for (let i = 1; i < size; ) {
      const d = depth[i];
      const b = byte[i];
      const pu = us[d - 1];
      const pq = qs[d - 1];
      let u = -1;
      let q = -1;
      if (pu >= 0 && CONTENT[b] && (u = UTF8[pu * 256 + b]) >= 0 && (q = dfa.row(pq)[b]) === -2) q = dfa.step(pq, b);
      if (q < 0) u = -1;
      let next = after[d - 1] ? stepSet(after[d - 1]!, b, false) : null;
      if (pu === 0 && closed && dfa.accepting[pq]) {
        // the text may end before b
        const out: Frame[] = [];
        step(closed, b, out);
        if (out.length) next = next ? [...next, ...out] : out;
      }
      if (u < 0 && !next) {
        i = end[i];
        continue;
      }
      us[d] = u;
      qs[d] = q;
      after[d] = next;
      if (tok[i] >= 0) this.vocab.setToken(mask, tok[i]);
      i++;
    }
  }
}
