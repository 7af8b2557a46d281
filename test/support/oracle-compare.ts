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

/** fileAgreement's result: the share of positions whose top-1 agrees, the mean KL(llama.cpp ‖ ours) over its top-40. */
export interface FileAgreement {
  top1: number;
  kl: number;
  positions: number;
  /** The matrix types our engine ran (e.g. q8_0, q4_k+q6_k). */
  types: string;
}

/**
 * Our engine and llama.cpp (F32 KV) on the same model file, over each sequence of `sequences` from position 0 (ours:
 * all in one batched forward, a fresh slot each; llama.cpp: one prefill each, its sequence emptied in between):
 * top-1 agreement and mean KL(llama.cpp ‖ ours) over llama.cpp's top-40, every position of every sequence.
 * `oursFile`: our engine reads this file instead (a deliberately damaged copy, to show the comparison fails).
 */
export async function fileAgreement(file: string, sequences: number[][], opts: { oursFile?: string } = {}): Promise<FileAgreement> {
  const spec = await loadModelSpecFrom(opts.oursFile ?? file);
  const engine = await loadEngine(spec, { threads: 2 });
  const longest = Math.max(...sequences.map((t) => t.length));
  const oracle = await LlamaOracle.open(file, { contextSize: Math.max(512, longest + 64), topK: 40 });
  try {
    const outs = await engine.forward(sequences.map((tokens) => ({ slot: engine.createSlot(tokens.length + 8, 'f32'), tokens, logits: 'all' as const })));
    let same = 0, kl = 0, positions = 0;
    for (const [s, tokens] of sequences.entries()) {
      await oracle.reset();
      const ll = await oracle.evaluate(tokens);
      expect(ll.length, `llama.cpp's distributions for sequence ${s}`).toBe(tokens.length);
      for (const d of ll) {
        const lp = logSoftmax(row(outs[s]!.data, d.pos, spec.config.vocabSize));
        if (argmax(lp) === d.top[0]!.id) same++;
        for (const e of d.top) kl += Math.exp(e.logprob) * (e.logprob - lp[e.id]!);
        positions++;
      }
    }
    return { top1: same / positions, kl: kl / positions, positions, types: (spec.matrixTypes ?? [spec.dtype]).join('+') };
  } finally {
    await oracle.dispose();
    engine.dispose();
  }
}
