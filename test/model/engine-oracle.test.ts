/**
 * The native engine against llama.cpp (node-llama-cpp, prebuilt) on the same random weights written as
 * GGUF: next-token distributions at every position of prompts of 1, 7, 100 and 600 tokens (crossing the
 * engine's 64-token chunks), and after appends to a live slot.
 * Bars: top-1 agreement ≥ 99% and max |Δ log-prob| over llama.cpp's top-10 ≤ 3e-3 with F32 weights (measured 8.4e-4,
 * AVX-512, 2026-12; the bar is ~3.5× that);
 * the same top-1 agreement with BF16 weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeGgufFromFolder } from '../../engine/synth/gguf-writer.js';
import { loadReference, referenceForward } from '../support/reference-forward.js';
import type { Engine } from '../../engine/engine-api.js';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import type { WeightDType } from '../../engine/model/model-spec.js';
import { loadEngine } from '../../engine/native.js';
import { LlamaOracle } from '../support/llama-oracle.js';
import { compareWithOracle, emptyStats, type OracleStats } from '../support/oracle-compare.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, randomTokens, row } from '../support/numeric.js';

const V = 151_936;
/** Max |Δ log-prob| against llama.cpp (F32 KV both sides): measured 8.4e-4 (tiny, tiny bf16 upcast), 2.9e-4 (tiny-untied). */
const ORACLE_BAR = 3e-3;


// The oracle runs llama.cpp with an F32 KV cache; our slots use F32 KV here too. With BF16 weights
// llama.cpp rounds every matmul's activations to BF16 (we keep them in F32), which on these sharply
// peaked random models moves log-probs by up to ~0.8 (see the last describe). So the BF16 weights are
// checked against llama.cpp running the very same values upcast exactly to F32.
const CASES: { preset: string; dtype: WeightDType; lengths: number[] }[] = [
  { preset: 'tiny', dtype: 'f32', lengths: [1, 7, 100, 600] },
  { preset: 'tiny-untied', dtype: 'f32', lengths: [7, 100] },
  { preset: 'tiny', dtype: 'bf16', lengths: [1, 7, 100, 600] },
];

async function oracleGguf(preset: string, dtype: WeightDType): Promise<{ dir: string; gguf: string }> {
  const m = await ensureModel(preset, dtype, { gguf: dtype === 'f32' });
  if (dtype === 'f32') return { dir: m.dir, gguf: m.gguf! };
  const gguf = join(m.dir, 'model-f32-upcast.gguf');
  if (!existsSync(gguf)) await writeGgufFromFolder(m.dir, gguf, { matrixDtype: 'f32' });
  return { dir: m.dir, gguf };
}

for (const { preset, dtype, lengths } of CASES) {
  describe(`engine vs llama.cpp: ${preset} ${dtype}`, () => {
    let engine: Engine;
    let gguf: string;
    const total: OracleStats = emptyStats();
    const bar = (s: OracleStats) => {
      expect(s.top1 / s.positions).toBeGreaterThanOrEqual(0.99);
      expect(s.maxDiff).toBeLessThanOrEqual(ORACLE_BAR);
      total.positions += s.positions;
      total.top1 += s.top1;
      total.maxDiff = Math.max(total.maxDiff, s.maxDiff);
    };
    beforeAll(async () => {
      const m = await oracleGguf(preset, dtype);
      gguf = m.gguf;
      engine = await loadEngine(await loadModelSpec(m.dir), { threads: 2, maxBatchTokens: 64 });
      expect(engine.weightDtype).toBe(dtype);
    });
    afterAll(() => {
      console.log(`engine vs llama.cpp (${preset} ${dtype}): top-1 ${total.top1}/${total.positions}, max |Δ logprob| ${total.maxDiff.toExponential(2)}`);
      engine?.dispose();
    });

    for (const n of lengths) {
      it(`agrees at every position of a ${n}-token prompt`, async () => {
        const tokens = randomTokens(n, 31 * n + 1);
        const slot = engine.createSlot(1024, 'f32');
        const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
        const oracle = await LlamaOracle.open(gguf, { contextSize: 1024 });
        try {
          const s: OracleStats = emptyStats();
          compareWithOracle(await oracle.evaluate(tokens), out!.data, out!.positions, s);
          expect(s.positions).toBe(n);
          bar(s);
        } finally {
          await oracle.dispose();
          slot.dispose();
        }
      });
    }

    it('agrees after appends (chunk, single-token decode steps, chunk) to a live slot', async () => {
      const all = randomTokens(150, 4242);
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
}

describe("engine vs llama.cpp's own BF16 arithmetic (tiny bf16)", () => {
  it('agrees on most top-1 tokens, and is closer than llama.cpp to the exact float64 forward', async () => {
    const m = await ensureModel('tiny', 'bf16', { gguf: true });
    const engine = await loadEngine(await loadModelSpec(m.dir), { threads: 2, maxBatchTokens: 64 });
    const tokens = randomTokens(100, 77);
    const slot = engine.createSlot(256, 'f32');
    const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
    const oracle = await LlamaOracle.open(m.gguf!, { contextSize: 256 });
    const ll = await oracle.evaluate(tokens);
    await oracle.dispose();
    const ref = referenceForward(await loadReference(m.dir), tokens);
    let top1 = 0;
    let oursErr = 0;
    let llamaErr = 0;
    for (const d of ll) {
      const lp = logSoftmax(row(out!.data, d.pos, V));
      if (argmax(lp) === d.top[0]!.id) top1++;
      for (const e of d.top) {
        oursErr = Math.max(oursErr, Math.abs(lp[e.id]! - ref.logprobs[d.pos]![e.id]!));
        llamaErr = Math.max(llamaErr, Math.abs(e.logprob - ref.logprobs[d.pos]![e.id]!));
      }
    }
    console.log(`BF16: top-1 agreement with llama.cpp ${top1}/${ll.length}; max |Δ logprob| vs float64: ours ${oursErr.toExponential(2)}, llama.cpp ${llamaErr.toExponential(2)}`);
    expect(top1 / ll.length).toBeGreaterThanOrEqual(0.9);
    expect(oursErr).toBeLessThan(8e-4); // measured 1.6e-4 (~5×)
    expect(oursErr).toBeLessThan(llamaErr);
    slot.dispose();
    engine.dispose();
  });
});
