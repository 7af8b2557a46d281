/**
 * Helpers for random walks under grammar masks (fuzz tests): token ids of a mask, exact-spelling
 * lookups, token sets that nudge walks towards completion, and a seeded generator.
 */
import type { GrammarVocab } from '../../engine/grammar/mask/vocab.js';

/** Token ids set in `mask` (only those with `filter[id]` set, when given). */
export function allowedTokens(mask: Uint32Array, filter?: Uint8Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < mask.length; w++) {
    let bits = mask[w];
    while (bits) {
      const b = 31 - Math.clz32(bits);
      bits &= ~(1 << b);
      const id = w * 32 + b;
      if (!filter || filter[id]) out.push(id);
    }
  }
  return out;
}

/** Id of the token spelling exactly `bytes`, if any. */
export function encodeExact(vocab: GrammarVocab, bytes: Uint8Array): number | undefined {
  const { byte, end, tok } = vocab.trie;
  let node = 0;
  for (const b of bytes) {
    let c = node + 1;
    while (c < end[node] && byte[c] !== b) c = end[c];
    if (c >= end[node]) return undefined;
    node = c;
  }
  return tok[node] >= 0 ? tok[node] : undefined;
}

/** Tokens spelling a substring of one of `texts` (longer than one byte, or a text's last byte), as a per-id flag table. */
export function substringTokens(vocab: GrammarVocab, texts: Iterable<string>, into = new Uint8Array(vocab.size)): Uint8Array {
  for (const text of texts) {
    const q = Buffer.from(text);
    for (let start = 0; start < q.length; start++) {
      for (let end = start + 1; end <= q.length; end++) {
        const id = encodeExact(vocab, q.subarray(start, end));
        if (id !== undefined && (end - start > 1 || start === q.length - 1)) into[id] = 1;
      }
    }
  }
  return into;
}

/** Property names declared anywhere in a schema. */
export function propertyNames(schema: unknown): Set<string> {
  const names = new Set<string>();
  JSON.stringify(schema, (k, v) => {
    if (k === 'properties' && v && typeof v === 'object') for (const n of Object.keys(v)) names.add(n);
    return v;
  });
  return names;
}

/** A seeded linear congruential generator of numbers in [0, 1]. */
export function seeded(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}
