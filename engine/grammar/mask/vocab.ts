/**
 * The vocabulary as the grammar sees it: token byte strings, a flat token trie (pre-order,
 * with subtree-end skip pointers) and precomputed token sets. Build once per tokenizer and
 * share between all grammars; `maskWords` = ceil(modelVocabSize / 32).
 */
import { loadTokenBytes, type TokenBytes } from '../../tokens/token-bytes.js';

/** A flat byte trie over a subset of tokens. Node 0 is the root (no byte). */
export interface FlatTrie {
  /** Byte of node i (unused for the root). */
  byte: Uint8Array;
  /** Depth of node i (root 0). */
  depth: Uint16Array;
  /** Index one past the last node of i's subtree. */
  end: Int32Array;
  /** First token id ending at node i, or -1; more ids with the same bytes via `dupNext`. */
  tok: Int32Array;
  size: number;
}

export class GrammarVocab {
  /** Bits in a mask (the model's vocab size, ≥ tokenizer size; padding ids are never allowed). */
  readonly size: number;
  readonly maskWords: number;
  readonly bytes: Uint8Array[];
  readonly special: Uint8Array;
  /** Trie of every non-special token. */
  readonly trie: FlatTrie;
  /**
   * Trie of the non-plain tokens whose first non-plain byte is `"` or `\`: the only non-plain
   * tokens that can follow a string body (a control byte inside a string is never allowed).
   */
  readonly stringExitTrie: FlatTrie;
  /** Tokens whose bytes are all plain string content (no `"`, `\`, byte < 0x20). */
  readonly plain: Int32Array;
  /** Next token id with the same bytes as id i, or -1. */
  readonly dupNext: Int32Array;
  /** Code points started by each token's bytes (count of non-continuation bytes). */
  readonly charCount: Uint8Array;
  private readonly interned = new Map<number, Uint32Array[]>();
  private internedCount = 0;

  constructor(readonly tokens: TokenBytes, modelVocabSize = tokens.size) {
    this.size = Math.max(modelVocabSize, tokens.size);
    this.maskWords = (this.size + 31) >>> 5;
    this.bytes = tokens.bytes;
    this.special = tokens.special;
    this.dupNext = new Int32Array(tokens.size).fill(-1);
    this.charCount = new Uint8Array(tokens.size);
    const normal: number[] = [];
    const plain: number[] = [];
    const exit: number[] = [];
    for (let id = 0; id < tokens.size; id++) {
      const b = tokens.bytes[id];
      if (tokens.special[id] || b.length === 0) continue;
      normal.push(id);
      let firstNonPlain = -1;
      let chars = 0;
      for (const x of b) {
        if (firstNonPlain < 0 && (x === 0x22 || x === 0x5c || x < 0x20)) firstNonPlain = x;
        if ((x & 0xc0) !== 0x80) chars++;
      }
      this.charCount[id] = Math.min(chars, 255);
      if (firstNonPlain < 0) plain.push(id);
      if (firstNonPlain === 0x22 || firstNonPlain === 0x5c) exit.push(id);
    }
    this.plain = Int32Array.from(plain);
    this.trie = this.buildTrie(normal);
    this.stringExitTrie = this.buildTrie(exit);
  }

  private readonly subTries = new Map<string, FlatTrie>();

  /**
   * Trie of the non-special tokens whose first byte outside `plain` (a 256-entry table, 1 = plain)
   * is one of `exits`; memoized under `key`. E.g. the tokens that can leave a raw-text body.
   */
  exitTrie(key: string, plain: Uint8Array, exits: number[]): FlatTrie {
    let t = this.subTries.get(key);
    if (!t) {
      // in the main trie's pre-order, which is sorted
      const ids: number[] = [];
      const { tok, size } = this.trie;
      for (let i = 1; i < size; i++) {
        if (tok[i] < 0) continue;
        const first = this.bytes[tok[i]].find((x) => !plain[x]);
        if (first !== undefined && exits.includes(first)) for (let id = tok[i]; id >= 0; id = this.dupNext[id]) ids.push(id);
      }
      this.subTries.set(key, (t = this.buildTrie(ids, true)));
    }
    return t;
  }

  private buildTrie(ids: number[], presorted = false): FlatTrie {
    const bytes = this.bytes;
    let sorted = ids;
    if (!presorted) {
      const keys = new Map<number, string>();
      for (const id of ids) keys.set(id, Buffer.from(bytes[id].buffer, bytes[id].byteOffset, bytes[id].length).toString('latin1'));
      sorted = [...ids].sort((a, b) => {
        const x = keys.get(a)!, y = keys.get(b)!;
        return x < y ? -1 : x > y ? 1 : 0;
      });
    }
    const byte: number[] = [0];
    const depth: number[] = [0];
    const tok: number[] = [-1];
    const end: number[] = [0];
    const path: number[] = [0]; // node index at each depth
    let prev: Uint8Array = new Uint8Array(0);
    for (const id of sorted) {
      const b = bytes[id];
      let common = 0;
      while (common < b.length && common < prev.length && b[common] === prev[common]) common++;
      while (path.length - 1 > common) end[path.pop()!] = byte.length;
      if (common === b.length && path.length - 1 === b.length) {
        // same bytes as the previous token
        const node = path[path.length - 1];
        let t = tok[node];
        if (t < 0) tok[node] = id;
        else {
          // (the chain is shared by every trie built over this vocabulary)
          while (t !== id && this.dupNext[t] >= 0) t = this.dupNext[t];
          if (t !== id) this.dupNext[t] = id;
        }
        prev = b;
        continue;
      }
      for (let d = common; d < b.length; d++) {
        path.push(byte.length);
        byte.push(b[d]);
        depth.push(d + 1);
        tok.push(d === b.length - 1 ? id : -1);
        end.push(0);
      }
      prev = b;
    }
    while (path.length) end[path.pop()!] = byte.length;
    return {
      byte: Uint8Array.from(byte), depth: Uint16Array.from(depth),
      end: Int32Array.from(end), tok: Int32Array.from(tok), size: byte.length,
    };
  }

  /** Empty mask of this vocabulary's width. */
  newMask(): Uint32Array {
    return new Uint32Array(this.maskWords);
  }

  /**
   * A mask equal to `mask` that is never mutated: an earlier one with the same bits, or a copy.
   * Fresh 19 KB buffers cost tens of µs on some hosts (page faults), far more than a hash.
   */
  intern(mask: Uint32Array): Uint32Array {
    let h = 0x811c9dc5;
    for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) h = Math.imul(h ^ mask[i] ^ i, 0x01000193);
    const list = this.interned.get(h);
    if (list) {
      for (const m of list) {
        let same = true;
        for (let i = 0; i < m.length && same; i++) same = m[i] === mask[i];
        if (same) return m;
      }
    }
    if (this.internedCount >= MAX_INTERNED) {
      this.interned.clear();
      this.internedCount = 0;
    }
    const copy = mask.slice();
    if (list) list.push(copy);
    else this.interned.set(h, [copy]);
    this.internedCount++;
    return copy;
  }

  /** Sets token `id` and the ids sharing its bytes in `mask`. */
  setToken(mask: Uint32Array, id: number): void {
    for (let t = id; t >= 0; t = this.dupNext[t]) mask[t >>> 5] |= 1 << (t & 31);
  }

  /** Id of an added token by content (e.g. `<|im_end|>`). */
  addedTokenId(content: string): number | undefined {
    return this.tokens.addedTokenId(content);
  }
}

/** Interned masks kept per vocabulary (19 KB each for Qwen). */
const MAX_INTERNED = 2048;

const cache = new Map<string, GrammarVocab>();

/** Loads (once per path and size) the grammar vocabulary of a tokenizer folder or tokenizer.json. */
export function loadGrammarVocab(dirOrTokenizerJson: string, modelVocabSize?: number): GrammarVocab {
  const key = `${dirOrTokenizerJson}|${modelVocabSize ?? ''}`;
  let v = cache.get(key);
  if (!v) {
    v = new GrammarVocab(loadTokenBytes(dirOrTokenizerJson), modelVocabSize);
    cache.set(key, v);
  }
  return v;
}

/** True when bit `id` is set. */
export function hasToken(mask: Uint32Array, id: number): boolean {
  return ((mask[id >>> 5] >>> (id & 31)) & 1) === 1;
}
