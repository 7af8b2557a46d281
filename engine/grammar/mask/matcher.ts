/**
 * Token-level grammar matchers. `TokenConstraint` is the one interface the sampler and the
 * runtime use for schema matchers and tool-call constraints alike: `mask()` is a synchronous
 * pure function of the current state (safe to compute while the forward pass runs).
 */
import { GrammarStateError } from '../errors.js';
import { MaskEngine, stepBytes, stepSet } from './mask-engine.js';
import { compileSchema, type CompiledSchema } from '../schema/schema-compiler.js';
import type { Node } from '../schema/schema-node.js';
import { canEnd, valueState, type Frame } from '../match/value-matcher.js';
import type { GrammarVocab } from './vocab.js';

/** What the sampler needs from a constraint. */
export interface TokenConstraint {
  /** Bits in `mask()` (the model's vocab size). */
  readonly vocabSize: number;
  /** Allowed next tokens: bit i of word i>>5 set = token i allowed. Do not mutate the result. */
  mask(): Uint32Array;
  /** Advances by `token`; returns false (state unchanged) when it is not allowed. */
  accept(token: number): boolean;
  /** Undoes the last `n` accepted tokens. Throws GrammarStateError if n exceeds the history. */
  rollback(n: number): void;
  /** True when the output may end here (a stop token is allowed, or was accepted). */
  isComplete(): boolean;
  /** True once a stop token was accepted. */
  isTerminated(): boolean;
  /** Bytes every valid continuation starts with (empty when there is a choice). */
  forcedBytes(): Uint8Array;
  /** Tokens covering a prefix of `forcedBytes()` (greedy longest match), to append without sampling. */
  forcedTokens(): number[];
}

/** A compiled grammar bound to a vocabulary; shared by all matchers of the same schema. */
export class Grammar {
  readonly engine: MaskEngine;
  constructor(readonly root: Node, readonly vocab: GrammarVocab, readonly schema?: CompiledSchema, readonly leadingWs = true) {
    this.engine = new MaskEngine(vocab);
  }
  private readonly stopMasks = new Map<string, WeakMap<Uint32Array, Uint32Array>>();

  /** `mask` (from the engine) with `stops` allowed too; memoized, do not mutate. */
  withStops(mask: Uint32Array, stops: number[]): Uint32Array {
    const key = stops.join(',');
    let m = this.stopMasks.get(key);
    if (!m) this.stopMasks.set(key, (m = new WeakMap()));
    let out = m.get(mask);
    if (!out) {
      out = mask.slice();
      for (const t of stops) out[t >>> 5] |= 1 << (t & 31);
      m.set(mask, out);
    }
    return out;
  }

  /** Initial state set: one value of the root, then the end. */
  start(): Frame[] {
    return [valueState(this.root, undefined, this.leadingWs)];
  }
}

const grammarCache = new WeakMap<GrammarVocab, Map<string, Grammar>>();

/** Compiles (memoized by schema text) a JSON Schema into a Grammar for `vocab`. */
export function schemaGrammar(schema: unknown, vocab: GrammarVocab): Grammar {
  let m = grammarCache.get(vocab);
  if (!m) grammarCache.set(vocab, (m = new Map()));
  const key = JSON.stringify(schema);
  let g = m.get(key);
  if (!g) {
    const c = compileSchema(schema);
    g = new Grammar(c.root, vocab, c);
    if (m.size > 256) m.clear();
    m.set(key, g);
  }
  return g;
}

/** Greedy longest-match tokenization of `bytes` over the vocabulary trie (whole tokens only). */
export function greedyTokens(vocab: GrammarVocab, bytes: Uint8Array): number[] {
  const { byte, end, tok } = vocab.trie;
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let node = 0;
    let best = -1;
    let bestLen = 0;
    for (let k = pos; k < bytes.length; k++) {
      // find child of `node` with byte bytes[k]
      let c = node + 1;
      const stop = end[node];
      while (c < stop && byte[c] !== bytes[k]) c = end[c];
      if (c >= stop) break;
      node = c;
      if (tok[node] >= 0) (best = tok[node]), (bestLen = k - pos + 1);
    }
    if (best < 0) break;
    out.push(best);
    pos += bestLen;
  }
  // keep only whole tokens; a token ending exactly at the end could be extended by a longer one
  return out;
}

/** Bytes forced from `states` (stops at a choice or where the input may end). */
export function forcedFrom(states: Frame[], limit = 256): Uint8Array {
  const out: number[] = [];
  let cur = states;
  while (out.length < limit && !cur.some(canEnd)) {
    let only = -1;
    let next: Frame[] | null = null;
    for (let b = 0; b < 256; b++) {
      const s = stepSet(cur, b);
      if (!s) continue;
      if (only >= 0) return Uint8Array.from(out);
      only = b;
      next = s;
    }
    if (!next) break;
    out.push(only);
    cur = next;
  }
  return Uint8Array.from(out);
}

/** Options of a schema matcher. */
export interface MatcherOptions {
  /** Tokens that end the output once it is complete (default: `<|im_end|>` and `<|endoftext|>` if present). */
  stopTokens?: number[];
}

/** Matches one JSON value of a schema, then a stop token. */
export class GrammarMatcher implements TokenConstraint {
  private readonly history: (Frame[] | null)[];
  readonly stopTokens: number[];
  readonly vocabSize: number;

  constructor(readonly grammar: Grammar, opts: MatcherOptions = {}) {
    const v = grammar.vocab;
    this.vocabSize = v.size;
    this.stopTokens = opts.stopTokens ?? defaultStops(v);
    this.history = [grammar.start()];
  }

  /** Current state set (null after the stop token). */
  get states(): Frame[] | null {
    return this.history[this.history.length - 1];
  }

  /** Tokens accepted so far. */
  get length(): number {
    return this.history.length - 1;
  }

  mask(): Uint32Array {
    const s = this.states;
    if (!s) return this.grammar.vocab.newMask();
    const m = this.grammar.engine.mask(s);
    if (!s.some(canEnd) || this.stopTokens.length === 0) return m;
    return this.grammar.withStops(m, this.stopTokens);
  }

  accept(token: number): boolean {
    const s = this.states;
    if (!s || token < 0 || token >= this.vocabSize) return false;
    const v = this.grammar.vocab;
    if (this.stopTokens.includes(token)) {
      if (!s.some(canEnd)) return false;
      this.history.push(null);
      return true;
    }
    if (token >= v.bytes.length || v.special[token]) return false;
    const next = stepBytes(s, v.bytes[token]);
    if (!next) return false;
    this.history.push(next);
    return true;
  }

  /** Accepts raw bytes (e.g. text already in the context); false (unchanged) if not allowed. */
  acceptBytes(bytes: Uint8Array): boolean {
    const s = this.states;
    const next = s && stepBytes(s, bytes);
    if (!next) return false;
    this.history.push(next);
    return true;
  }

  rollback(n: number): void {
    if (n < 0 || n > this.length) throw new GrammarStateError(`cannot roll back ${n} tokens (have ${this.length})`);
    this.history.length -= n;
  }

  isComplete(): boolean {
    const s = this.states;
    return s === null || s.some(canEnd);
  }

  isTerminated(): boolean {
    return this.states === null;
  }

  forcedBytes(): Uint8Array {
    const s = this.states;
    return s ? forcedFrom(s) : new Uint8Array(0);
  }

  forcedTokens(): number[] {
    return forcedTokensOf(this.grammar.vocab, this.forcedBytes());
  }
}

/** Greedy tokens of forced bytes, dropping a last token that a longer one could still replace. */
export function forcedTokensOf(vocab: GrammarVocab, bytes: Uint8Array): number[] {
  const toks = greedyTokens(vocab, bytes);
  let covered = 0;
  for (const t of toks) covered += vocab.bytes[t].length;
  // the last token may end exactly at the forced boundary where a longer token could continue
  if (toks.length && covered === bytes.length) toks.pop();
  return toks;
}

/** End-of-turn tokens present in the vocabulary: ChatML's `<|im_end|>`, `<|endoftext|>` (default), or those named. */
export function defaultStops(v: GrammarVocab, names: readonly string[] = ['<|im_end|>', '<|endoftext|>']): number[] {
  return names.map((c) => v.addedTokenId(c)).filter((x): x is number => x !== undefined);
}

/** A matcher for one JSON value of `schema` (compiled once per schema and vocabulary). */
export function createSchemaMatcher(schema: unknown, vocab: GrammarVocab, opts: MatcherOptions = {}): GrammarMatcher {
  return new GrammarMatcher(schemaGrammar(schema, vocab), opts);
}
