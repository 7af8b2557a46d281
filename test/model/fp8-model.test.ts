/**
 * FP8 (e4m3, 128×128 block scales) folders in Qwen's layout (make-model --dtype fp8), for Qwen3 dense / MoE and the
 * Qwen3.5 hybrids (dense, MoE with per-expert matrices): the engine on the FP8 folder
 *  - gives bit-identical logits to the engine on a BF16 folder holding exactly the dequantized weights rounded to BF16
 *    (also in int8 mode, on top of the conversion);
 *  - agrees with the float64 reference forward on those BF16-rounded weights to the F32 tests' bar (1e-4 relative),
 *    and with the reference on the exact (unrounded) dequantized weights to what BF16 storage allows;
 *  - has a fingerprint other than the BF16 twin's, so sessions' KV is never reused across them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelSpec } from '../../engine/model/hf-model.js';
import { loadEngine } from '../../engine/native.js';
import { hybridForward } from '../support/hybrid-reference.js';
import { ensureModel } from '../support/models.js';
import { ensureFp8Bf16Twin, loadFp8Reference, roundedToBf16 } from '../support/fp8-reference.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { referenceForward, type ReferenceModel } from '../support/reference-forward.js';
import type { Engine } from '../../engine/engine-api.js';

const found: string[] = [];
afterAll(() => console.log(`FP8 folders vs float64 reference:\n  ${found.join('\n  ')}`));

async function logits(e: Engine, tokens: number[]): Promise<Float32Array> {
  const slot = e.createSlot(256, 'f32');
  try {
    const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
    return out!.data;
  } finally {
    slot.dispose();
  }
}

/** Worst |Δ log-prob| / max(1, max |log-prob|) over the positions, and how many argmaxes agree. */
function compare(ours: Float32Array, ref: ReferenceModel, tokens: number[], V: number): { worst: number; top1: number } {
  const hybrid = ref.config.arch === 'qwen35' || ref.config.arch === 'qwen35moe';
  const r = hybrid ? hybridForward(ref, tokens) : referenceForward(ref, tokens);
  let worst = 0, top1 = 0;
  for (let p = 0; p < tokens.length; p++) {
    const lp = logSoftmax(row(ours, p, V));
    const want = r.logprobs[p]!;
    worst = Math.max(worst, maxAbsDiff(lp, want) / Math.max(1, maxAbs(want)));
    if (argmax(lp) === argmax(want)) top1++;
  }
  return { worst, top1 };
}

for (const preset of ['tiny', 'tiny-moe', 'tiny-hybrid', 'tiny-hybrid-moe']) {
  describe(`FP8 folder (${preset})`, () => {
    it('equals its BF16 twin bit for bit, matches the float64 reference, and has its own fingerprint', async () => {
      const fp8Dir = (await ensureModel(preset, 'fp8', { builtinTokenizer: true })).dir;
      const twinDir = await ensureFp8Bf16Twin(fp8Dir);
      const [spec, twinSpec] = [await loadModelSpec(fp8Dir), await loadModelSpec(twinDir)];
      expect(spec.dtype).toBe('bf16');
      expect(spec.fingerprint).not.toBe(twinSpec.fingerprint);
      const V = spec.config.vocabSize;
      const tokens = randomTokens(12, 31, Math.min(V, 151_643));
      const engine = await loadEngine(spec, { threads: 2, maxBatchTokens: 64 });
      const twin = await loadEngine(twinSpec, { threads: 2, maxBatchTokens: 64 });
      try {
        expect(engine.fingerprint).not.toBe(twin.fingerprint);
        const ours = await logits(engine, tokens);
        expect(maxAbsDiff(ours, await logits(twin, tokens))).toBe(0);

        const exact = await loadFp8Reference(fp8Dir);
        const rounded = compare(ours, roundedToBf16(exact), tokens, V);
        const unrounded = compare(ours, exact, tokens, V);
        found.push(`${preset}: BF16-rounded weights ${rounded.worst.toExponential(2)} (top-1 ${rounded.top1}/${tokens.length}), exact weights ${unrounded.worst.toExponential(2)} (top-1 ${unrounded.top1}/${tokens.length})`);
        expect(rounded.worst).toBeLessThan(1e-4);
        expect(rounded.top1).toBe(tokens.length);
        // against the exact values only the BF16 storage differs (≤ 2⁻⁸ relative per weight): measured 1.5e-2 (dense)
        // to 1.7e-1 (MoE, where a near-tie between two experts' router scores can flip the choice)
        expect(unrounded.worst).toBeLessThan(0.25);
        expect(unrounded.top1).toBeGreaterThanOrEqual(tokens.length - 2);
      } finally {
        engine.dispose();
        twin.dispose();
      }
    }, 600_000);
  });
}

describe('FP8 folder in int8 mode (tiny)', () => {
  it('quantizes the converted weights exactly as it quantizes the BF16 twin', async () => {
    const fp8Dir = (await ensureModel('tiny', 'fp8', { builtinTokenizer: true })).dir;
    const twinDir = await ensureFp8Bf16Twin(fp8Dir);
    const engine = await loadEngine(await loadModelSpec(fp8Dir), { threads: 2, maxBatchTokens: 64, weights: 'int8' });
    const twin = await loadEngine(await loadModelSpec(twinDir), { threads: 2, maxBatchTokens: 64, weights: 'int8' });
    try {
      expect(engine.fingerprint.endsWith('+int8')).toBe(true);
      expect(engine.fingerprint).not.toBe(twin.fingerprint);
      const tokens = randomTokens(12, 5);
      expect(maxAbsDiff(await logits(engine, tokens), await logits(twin, tokens))).toBe(0);
    } finally {
      engine.dispose();
      twin.dispose();
    }
  }, 600_000);
});
