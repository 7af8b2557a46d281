/** Comparing our engine's logits with llama.cpp's top-k distributions (see llama-oracle.ts). */
import { expect } from 'vitest';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import { loadEngine } from '../../engine/native.js';
import { LlamaOracle, type PositionDist } from './llama-oracle.js';
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

/**
 * Our engine and llama.cpp (F32 KV) on the same model file, over `tokens` in one prefill: the share of positions
 * whose top-1 agrees, and the mean KL(llama.cpp ‖ ours) over llama.cpp's top-40.
 */
export async function fileAgreement(file: string, tokens: number[]): Promise<{ top1: number; kl: number; positions: number; types: string }> {
  const spec = await loadModelSpecFrom(file);
  const engine = await loadEngine(spec, { threads: 2 });
  const capacity = Math.max(512, tokens.length + 64);
  const oracle = await LlamaOracle.open(file, { contextSize: capacity, topK: 40 });
  try {
    const slot = engine.createSlot(capacity, 'f32');
    const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
    const ll = await oracle.evaluate(tokens);
    let same = 0, kl = 0;
    for (const d of ll) {
      const lp = logSoftmax(row(out!.data, d.pos, spec.config.vocabSize));
      if (argmax(lp) === d.top[0]!.id) same++;
      for (const e of d.top) kl += Math.exp(e.logprob) * (e.logprob - lp[e.id]!);
    }
    return { top1: same / ll.length, kl: kl / ll.length, positions: ll.length, types: (spec.matrixTypes ?? [spec.dtype]).join('+') };
  } finally {
    await oracle.dispose();
    engine.dispose();
  }
}
