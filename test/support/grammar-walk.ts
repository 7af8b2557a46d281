/**
 * Helpers for tests of token constraints: feeding text token by token, token ids of a mask,
 * exact-spelling lookups, token sets that nudge random walks towards completion, a seeded
 * generator.
 */
import { expect } from 'vitest';
import type { TokenConstraint } from '../../engine/grammar/mask/matcher.js';
import { hasToken, type GrammarVocab } from '../../engine/grammar/mask/vocab.js';

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

/**
 * Feeds text (tokenized by `encode`) and special token ids to `c`, checking at every token that
 * the mask and `accept` agree; returns false at the first refused token.
 */
export function feedTokens(c: TokenConstraint, encode: (text: string) => number[], parts: (string | number)[]): boolean {
  for (const p of parts) {
    for (const id of typeof p === 'number' ? [p] : encode(p)) {
      const bit = hasToken(c.mask(), id);
      const ok = c.accept(id);
      expect(ok).toBe(bit);
      if (!ok) return false;
    }
  }
  return true;
}

/** A uniformly random token of `mask` (undefined when empty), without listing the mask. */
export function randomToken(mask: Uint32Array, rnd: () => number): number | undefined {
  let total = 0;
  for (let w = 0; w < mask.length; w++) total += popcount(mask[w]);
  if (total === 0) return undefined;
  let k = Math.floor(rnd() * total);
  for (let w = 0; w < mask.length; w++) {
    const c = popcount(mask[w]);
    if (k >= c) {
      k -= c;
      continue;
    }
    for (let bits = mask[w]; ; bits &= bits - 1) if (k-- === 0) return w * 32 + (31 - Math.clz32(bits & -bits));
  }
  return undefined;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Steers random walks towards completion: among the allowed tokens that spell part of a goal
 * text (what closes values, parameters and calls; the tools' and properties' names), prefers
 * those continuing the longest goal prefix the output ends in; among those, the goals of the
 * lowest rank (`goals[rank]`) with probability 0.6, else any.
 */
export class GoalNudge {
  /** Per goal: its bytes, rank, and per offset m the tokens spelling goal[m, m + length). */
  private readonly goals: { text: Buffer; rank: number; at: number[][] }[] = [];

  constructor(vocab: GrammarVocab, goals: string[][]) {
    goals.forEach((group, rank) =>
      group.forEach((g) => {
        const text = Buffer.from(g);
        const at = Array.from(text, (_, m) => {
          const ids: number[] = [];
          for (let e = m + 1; e <= text.length; e++) {
            const id = encodeExact(vocab, text.subarray(m, e));
            if (id !== undefined) ids.push(id);
          }
          return ids;
        });
        this.goals.push({ text, rank, at });
      }),
    );
  }

  /** An allowed goal token as described above; undefined when none is allowed. */
  pick(mask: Uint32Array, tail: number[], rnd: () => number): number | undefined {
    const ranked = rnd() < 0.6;
    let best = -Infinity;
    let picks: number[] = [];
    for (const { text, rank, at } of this.goals) {
      // longest m such that tail ends with text[0, m)
      for (let m = Math.min(text.length - 1, tail.length); m >= 0; m--) {
        let ok = true;
        for (let i = 0; i < m && ok; i++) ok = tail[tail.length - m + i] === text[i];
        if (!ok) continue;
        const score = m * 64 - (ranked ? rank : 0);
        if (score < best) continue;
        const ids = at[m].filter((id) => hasToken(mask, id));
        if (!ids.length) continue;
        if (score > best) (best = score), (picks = []);
        picks.push(...ids);
      }
    }
    return picks.length ? picks[Math.floor(rnd() * picks.length)] : undefined;
  }
}
