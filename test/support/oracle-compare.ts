/** Comparing our engine's logits with llama.cpp's top-k distributions (see llama-oracle.ts). */
import { expect } from 'vitest';
import type { PositionDist } from './llama-oracle.js';
import { argmax, logSoftmax, row } from './numeric.js';

/** Totals over compared positions: top-1 agreement and max |Δ log-prob| over llama.cpp's top-k. */
export interface OracleStats {
  positions: number;
  top1: number;
  maxDiff: number;
}

export const emptyStats = (): OracleStats => ({ positions: 0, top1: 0, maxDiff: 0 });

/** Adds llama.cpp's distributions `ll` vs our logits rows (row i is position oursPositions[i]) to `s`. */
export function compareWithOracle(ll: PositionDist[], ours: Float32Array, oursPositions: number[], s: OracleStats, vocab = 151_936): void {
  const at = new Map(oursPositions.map((p, i) => [p, i]));
  for (const d of ll) {
    const i = at.get(d.pos);
    expect(i, `our logits for position ${d.pos}`).toBeDefined();
    const lp = logSoftmax(row(ours, i!, vocab));
    s.positions++;
    if (argmax(lp) === d.top[0]!.id) s.top1++;
    for (const e of d.top) s.maxDiff = Math.max(s.maxDiff, Math.abs(e.logprob - lp[e.id]!));
  }
}

/** Adds llama.cpp's distributions `ll` vs full-vocabulary log-prob rows (row i is position positions[i]) to `s`. */
export function compareWithRows(ll: PositionDist[], positions: number[], rows: ArrayLike<number>[], s: OracleStats): void {
  const at = new Map(positions.map((p, i) => [p, rows[i]!]));
  for (const d of ll) {
    const lp = at.get(d.pos);
    expect(lp, `reference row for position ${d.pos}`).toBeDefined();
    s.positions++;
    if (argmax(lp!) === d.top[0]!.id) s.top1++;
    for (const e of d.top) s.maxDiff = Math.max(s.maxDiff, Math.abs(e.logprob - lp![e.id]!));
  }
}
