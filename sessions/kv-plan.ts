/** Which snapshot segments restore a session's KV (pure): greedy chain of valid segments from position 0. */
import { prefixHash } from './checksum.js';

/** What planning needs of a segment. */
export interface SegmentRef {
  file: string;
  start: number;
  end: number;
  prefixHash: string;
  /** Tokens [start, end) the segment was computed from. */
  tokens: number[];
}

export interface RestoreStep<T extends SegmentRef = SegmentRef> {
  seg: T;
  /** Load positions [seg.start, upTo). */
  upTo: number;
}

/**
 * Positions of `seg` still valid for `tokens`: its prefix hash must match tokens[0, start) and then
 * as many of its tokens as agree with tokens[start, …). Returns the end of the valid range
 * (≤ seg.start means unusable).
 */
export function validEnd(seg: SegmentRef, tokens: readonly number[], hashes: Map<number, string>): number {
  if (seg.start > tokens.length) return seg.start;
  let h = hashes.get(seg.start);
  if (h === undefined) hashes.set(seg.start, (h = prefixHash(tokens, seg.start)));
  if (h !== seg.prefixHash) return seg.start;
  let i = 0;
  const n = Math.min(seg.tokens.length, tokens.length - seg.start);
  while (i < n && seg.tokens[i] === tokens[seg.start + i]) i++;
  return seg.start + i;
}

/** Greedy chain: at each position, the valid segment reaching furthest. `covered` = positions restorable. */
export function planRestore<T extends SegmentRef>(segs: readonly T[], tokens: readonly number[], from = 0): { steps: RestoreStep<T>[]; covered: number } {
  const hashes = new Map<number, string>();
  const ends = segs.map((s) => validEnd(s, tokens, hashes));
  const steps: RestoreStep<T>[] = [];
  let pos = from;
  for (;;) {
    let best = -1;
    for (let i = 0; i < segs.length; i++) {
      if (segs[i]!.start <= pos && ends[i]! > pos && (best < 0 || ends[i]! > ends[best]!)) best = i;
    }
    if (best < 0) break;
    steps.push({ seg: segs[best]!, upTo: ends[best]! });
    pos = ends[best]!;
  }
  return { steps, covered: pos };
}

/** Segments that no longer contribute to the chain for `tokens` (safe to delete). */
export function unusedSegments<T extends SegmentRef>(segs: readonly T[], tokens: readonly number[]): T[] {
  const used = new Set(planRestore(segs, tokens).steps.map((s) => s.seg));
  return segs.filter((s) => !used.has(s));
}
