/**
 * Sampling under a sparse allowed-token mask (a grammar state allowing few tokens): the allowed ids and their logits
 * are gathered in ascending id order, so no pass over the whole vocabulary follows.
 */
import { EngineArgumentError } from '../errors.js';
import { NoAllowedTokenError } from './sampler.js';

/** A mask allowing at most this share of the vocabulary is sampled over its allowed ids only. */
export const SPARSE_SHARE = 1 / 8;

/** Allowed ids of a mask within a vocabulary of V; throws when the mask is too short or allows none. */
export function countAllowed(mask: Uint32Array, V: number): number {
  const words = Math.ceil(V / 32);
  if (mask.length < words) throw new EngineArgumentError(`sampling: mask has ${mask.length} words, vocabulary of ${V} needs ${words}`);
  let n = 0;
  for (let i = 0; i < words; i++) {
    let x = mask[i]!;
    if (i === words - 1 && V % 32) x &= (1 << V % 32) - 1;
    x = x - ((x >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    n += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  }
  if (n === 0) throw new NoAllowedTokenError('sampling: the allowed-token mask allows no token');
  return n;
}

/**
 * The n allowed ids of `mask` (ascending) and their logits; indexOf(t) = t's index among them, or −1. Sampling over
 * `vals` picks the same token for the same PRNG state as the dense pass over the masked row (ties, sums and draws
 * run in the same order over the same finite entries).
 */
export function gatherAllowed(logits: Float32Array, mask: Uint32Array, n: number): { ids: Int32Array; vals: Float32Array; indexOf: (t: number) => number } {
  const V = logits.length;
  const all = new Int32Array(n);
  let k = 0;
  for (let i = 0, words = Math.ceil(V / 32); i < words; i++) {
    let bits = mask[i]!;
    while (bits) {
      const b = 31 - Math.clz32(bits);
      bits &= ~(1 << b);
      const id = i * 32 + b;
      if (id < V) all[k++] = id;
    }
  }
  const ids = all.subarray(0, k).sort(); // bits were taken high to low within a word
  const vals = new Float32Array(k);
  for (let j = 0; j < k; j++) vals[j] = logits[ids[j]!]!;
  const indexOf = (t: number) => {
    let lo = 0;
    let hi = k - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid]! === t) return mid;
      if (ids[mid]! < t) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  return { ids, vals, indexOf };
}
