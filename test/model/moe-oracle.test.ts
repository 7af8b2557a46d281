/**
 * Qwen3-MoE in the native engine against llama.cpp (node-llama-cpp, arch `qwen3moe`, same F32 weights as
 * GGUF, F32 KV) and against the float64 reference forward, on `tiny-moe` (8 experts, 2 active, every layer
 * sparse). Prompts of 1, 7, 100 and 300 tokens (every third position there) cross the engine's 64-token chunks; appends mix chunks and
 * single-token decode steps. Bars (as for the dense engine): top-1 ≥ 99% of positions and max |Δ log-prob|
 * over llama.cpp's top-10 ≤ 3e-3 (measured 8.4e-4); vs float64: 1e-4 relative on the full log-softmax row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { compareWithOracle, emptyStats, type OracleStats } from '../support/oracle-compare.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, referenceForward, type ReferenceModel } from '../support/reference-forward.js';

const V = 151_936;


let engine: Engine;
let gguf: string;
let ref: ReferenceModel;
const total: OracleStats = emptyStats();

function bar(s: OracleStats): void {
  expect(s.top1 / s.positions).toBeGreaterThanOrEqual(0.99);
  expect(s.maxDiff).toBeLessThanOrEqual(3e-3); // measured 8.4e-4 (F32 KV both sides)
  total.positions += s.positions;
  total.top1 += s.top1;
  total.maxDiff = Math.max(total.maxDiff, s.maxDiff);
}

beforeAll(async () => {
  const m = await ensureModel('tiny-moe', 'f32', { gguf: true });
  gguf = m.gguf!;
  const spec = await loadModelSpec(m.dir);
  expect(spec.config.arch).toBe('qwen3moe');
  engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
  ref = await loadReference(m.dir);
});
afterAll(() => {
  console.log(`MoE engine vs llama.cpp (tiny-moe f32): top-1 ${total.top1}/${total.positions}, max |Δ logprob| ${total.maxDiff.toExponential(2)}`);
  engine?.dispose();
});

describe('MoE engine vs llama.cpp (tiny-moe, f32 weights, f32 KV)', () => {
  // 300 tokens: every third position and the last (the oracle's per-position cost dominates this file)
  for (const [n, every] of [[1, 1], [7, 1], [100, 1], [300, 3]] as const) {
    it(`agrees at ${every === 1 ? 'every position' : `every ${every}rd position`} of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 17 * n + 3);
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
    const all = randomTokens(150, 9191);
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

describe('MoE engine vs the float64 reference forward (tiny-moe, f32 weights, f32 KV)', () => {
  for (const n of [1, 7, 100]) {
    it(`agrees to 1e-4 relative on every position of a ${n}-token prompt`, async () => {
      const tokens = randomTokens(n, 2000 + n);
      const slot = engine.createSlot(256, 'f32');
      const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
      const r = referenceForward(ref, tokens);
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
