/**
 * MiniMax-M2 in the native engine (engine/native/models/minimax-m2.cpp) against llama.cpp (node-llama-cpp, arch
 * `minimax-m2`, the same F32 weights as GGUF, F32 KV) and against the float64 reference (test/support/minimax-reference.ts),
 * on `tiny-minimax`: every layer attention (q/k RMSNorm over all heads, 32 of 64 dims rotated) + sigmoid-routed MoE
 * (8 experts, 2 active, score-correction bias). Prompts of 1, 7, 100 and 600 tokens (600: every third position) cross
 * the engine's 64-token chunks; appends mix chunks and single-token decode steps. Bars: top-1 ≥ 99.5 % of positions,
 * max |Δ log-prob| over llama.cpp's top-10 ≤ 5e-3; vs float64: 1e-4 relative on the full log-softmax row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { compareWithOracle, emptyStats, type OracleStats } from '../support/oracle-compare.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, type ReferenceModel } from '../support/reference-forward.js';
import { minimaxForward } from '../support/minimax-reference.js';

const V = 151_936;

let engine: Engine;
let gguf: string;
let ref: ReferenceModel;
const total: OracleStats = emptyStats();

function bar(s: OracleStats): void {
  expect(s.top1 / s.positions).toBeGreaterThanOrEqual(0.995);
  expect(s.maxDiff).toBeLessThanOrEqual(5e-3);
  total.positions += s.positions;
  total.top1 += s.top1;
  total.maxDiff = Math.max(total.maxDiff, s.maxDiff);
}

beforeAll(async () => {
  const m = await ensureModel('tiny-minimax', 'f32', { gguf: true });
  gguf = m.gguf!;
  const spec = await loadModelSpec(m.dir);
  expect(spec.config.arch).toBe('minimax-m2');
  engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
  ref = await loadReference(m.dir);
});
afterAll(() => {
  console.log(`MiniMax-M2 engine vs llama.cpp (tiny-minimax f32): top-1 ${total.top1}/${total.positions}, max |Δ logprob| ${total.maxDiff.toExponential(2)}`);
  engine?.dispose();
});

describe('MiniMax-M2 engine vs llama.cpp (tiny-minimax, f32 weights, f32 KV)', () => {
  for (const [n, every] of [[1, 1], [7, 1], [100, 1], [600, 3]] as const) {
    it(`agrees at ${every === 1 ? 'every position' : `every ${every}rd position`} of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 31 * n + 5);
      const positions = Array.from({ length: n }, (_, p) => p).filter((p) => p % every === every - 1 || p === n - 1);
      const slot = engine.createSlot(1024, 'f32');
      const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
      const oracle = await LlamaOracle.open(gguf, { contextSize: 1024 });
      try {
        const s: OracleStats = emptyStats();
        compareWithOracle(await oracle.evaluate(tokens, { positions }), out!.data, out!.positions, s);
        expect(s.positions).toBe(positions.length);
        bar(s);
      } finally {
        await oracle.dispose();
        slot.dispose();
      }
    });
  }

  it('agrees after appends (chunk, single-token decode steps, chunk) to a live slot', async () => {
    const all = randomTokens(150, 7171);
    const slot = engine.createSlot(1024, 'f32');
    const oracle = await LlamaOracle.open(gguf, { contextSize: 512 });
    try {
      const s: OracleStats = emptyStats();
      for (const [a, b] of [[0, 70], [70, 71], [71, 72], [72, 73], [73, 150]] as const) {
        const [out] = await engine.forward([{ slot, tokens: all.slice(a, b), logits: 'all' }]);
        compareWithOracle(await oracle.evaluate(all.slice(a, b)), out!.data, out!.positions.map((p) => p + a), s);
      }
      expect(s.positions).toBe(150);
      bar(s);
    } finally {
      await oracle.dispose();
      slot.dispose();
    }
  });
});

describe('MiniMax-M2 engine vs the float64 reference forward (tiny-minimax, f32 weights, f32 KV)', () => {
  for (const n of [1, 7, 100]) {
    it(`agrees to 1e-4 relative on every position of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 3000 + n);
      const slot = engine.createSlot(256, 'f32');
      const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
      const r = minimaxForward(ref, tokens);
      for (let p = 0; p < n; p++) {
        const lp = logSoftmax(row(out!.data, p, V));
        const want = r.logprobs[p]!;
        expect(argmax(lp)).toBe(argmax(want));
        expect(maxAbsDiff(lp, want) / maxAbs(want)).toBeLessThan(1e-4);
      }
      slot.dispose();
    });
  }
});
