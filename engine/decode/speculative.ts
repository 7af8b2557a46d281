/**
 * Model-free speculative decoding: drafts come from the sequence's own context (the tokens that followed
 * the most recent earlier occurrence of its current suffix — agents repeat tool output and code), and a
 * draft of k tokens is verified in one forward of k + 1 tokens. Greedy: the output is exactly what
 * one-token-at-a-time greedy decoding produces; only the number of forward passes changes.
 */
import type { Engine, KvSlot } from '../engine-api.js';
import { argmax } from './logit-math.js';

/** Suffix-match drafter over a growing token history; n-grams of length minN..maxN are indexed. */
export class NgramDrafter {
  private readonly history: number[] = [];
  private readonly index: Map<number, number>[]; // per n: hash of the n-gram → end (exclusive) of its latest earlier occurrence
  private indexed = 0; // n-grams ending before this position are in the index

  constructor(private readonly minN = 2, private readonly maxN = 4) {
    this.index = Array.from({ length: maxN + 1 }, () => new Map<number, number>());
  }

  get length(): number {
    return this.history.length;
  }

  /** Appends tokens to the history. */
  push(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) this.history.push(tokens[i]!);
    // index every n-gram that ends before the last position, so a lookup of the current suffix finds an earlier one
    for (; this.indexed < this.history.length - 1; this.indexed++) {
      for (let n = this.minN; n <= this.maxN && n <= this.indexed + 1; n++) this.index[n]!.set(this.hash(this.indexed + 1 - n, n), this.indexed + 1);
    }
  }

  /** Keeps the first `n` tokens (a rollback); rebuilds the index. */
  truncate(n: number): void {
    this.history.length = Math.min(n, this.history.length);
    for (const m of this.index) m.clear();
    this.indexed = 0;
    this.push([]);
  }

  /** Up to `k` tokens that followed the longest recent match of the current suffix; [] when none. */
  propose(k: number): number[] {
    const h = this.history;
    for (let n = Math.min(this.maxN, h.length); n >= this.minN; n--) {
      const end = this.index[n]!.get(this.hash(h.length - n, n));
      if (end === undefined || !this.same(end - n, h.length - n, n)) continue;
      return h.slice(end, Math.min(end + k, h.length));
    }
    return [];
  }

  private hash(start: number, n: number): number {
    let x = n * 0x9e3779b1;
    for (let i = start; i < start + n; i++) x = Math.imul(x ^ this.history[i]!, 0x85ebca6b) >>> 0;
    return x;
  }

  private same(a: number, b: number, n: number): boolean {
    for (let i = 0; i < n; i++) if (this.history[a + i] !== this.history[b + i]) return false;
    return true;
  }
}

export interface SpeculativeStats {
  /** Forward passes run. */
  steps: number;
  /** Draft tokens proposed and accepted. */
  proposed: number;
  accepted: number;
}

/**
 * Greedy decoding of up to `maxTokens` tokens after `first` (the token the last logits chose, not yet in
 * the slot). `drafter` must hold the slot's tokens. Returns the tokens (starting with `first`); like plain
 * decoding, the slot then holds all of them but the last.
 */
export async function speculativeGreedy(
  engine: Engine,
  slot: KvSlot,
  first: number,
  opts: { maxTokens: number; drafter: NgramDrafter; maxDraft?: number; stopTokens?: ReadonlySet<number> },
): Promise<{ tokens: number[]; stats: SpeculativeStats }> {
  const { drafter, maxTokens } = opts;
  const maxDraft = opts.maxDraft ?? 8;
  const isStop = (t: number) => opts.stopTokens?.has(t) ?? false;
  const vocab = engine.config.vocabSize;
  const stats: SpeculativeStats = { steps: 0, proposed: 0, accepted: 0 };
  const out: number[] = [];
  let next = first; // chosen, not yet fed
  for (;;) {
    out.push(next);
    if (isStop(next) || out.length >= maxTokens) break;
    drafter.push([next]);
    // keep one token of room so the last token out is never fed, as in plain decoding
    const draft = drafter.propose(Math.min(maxDraft, maxTokens - out.length - 1));
    const base = slot.length;
    const [res] = await engine.forward([{ slot, tokens: [next, ...draft], logits: 'all' }]);
    const row = (i: number) => res!.data.subarray(i * vocab, (i + 1) * vocab);
    stats.steps++;
    stats.proposed += draft.length;
    let m = 0; // row i predicts the token after feed[i]; draft[i] is accepted while it matches
    while (m < draft.length && argmax(row(m)) === draft[m]) m++;
    const stop = draft.slice(0, m).findIndex(isStop);
    if (stop >= 0) {
      // the stop token ends the output unfed: the slot keeps next and draft[0..stop)
      slot.truncate(base + 1 + stop);
      drafter.push(draft.slice(0, stop));
      stats.accepted += stop + 1;
      out.push(...draft.slice(0, stop + 1));
      break;
    }
    if (m < draft.length) slot.truncate(base + 1 + m);
    stats.accepted += m;
    out.push(...draft.slice(0, m));
    drafter.push(draft.slice(0, m));
    next = argmax(row(m));
  }
  return { tokens: out, stats };
}
