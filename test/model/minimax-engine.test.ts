/**
 * The MiniMax-M2 forward (engine/native/models/minimax-m2.cpp) on `tiny-minimax` beyond the oracle file: every
 * kernel level this CPU runs against the float64 reference (F32 weights), BF16 weights against the float64 reference of those weights, decode steps
 * equal to a prefill, a batched forward over several slots equal to one slot at a time, the expert statistics of
 * the sigmoid router, and the loader's named errors for MiniMax options the forward does not implement.
 * A kernel level the CPU lacks is skipped (printed), not failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, KernelLevel } from '../../engine/engine-api.js';
import { UnsupportedModelError } from '../../engine/errors.js';
import { loadModelSpec, parseModelConfig } from '../../engine/model/hf-model.js';
import type { ModelSpec } from '../../engine/model/model-spec.js';
import { loadEngine, nativeBinding } from '../../engine/native.js';
import { hfConfigJson } from '../../engine/synth/make-model.js';
import { getPreset } from '../../engine/synth/model-presets.js';
import { ensureModel } from '../support/models.js';
import { argmax, logSoftmax, maxAbs, maxAbsDiff, randomTokens, row } from '../support/numeric.js';
import { loadReference, type ReferenceModel } from '../support/reference-forward.js';
import { minimaxForward } from '../support/minimax-reference.js';

const V = 151_936;
const levels = nativeBinding().kernelLevels as string[];
let f32: ModelSpec;
let bf16: ModelSpec;
let ref: ReferenceModel;
const engines: Engine[] = [];

async function engine(spec: ModelSpec, kernels: KernelLevel = 'auto', maxBatchTokens = 64): Promise<Engine> {
  const e = await loadEngine(spec, { threads: 2, maxBatchTokens, kernels });
  engines.push(e);
  return e;
}

beforeAll(async () => {
  const m = await ensureModel('tiny-minimax', 'f32');
  f32 = await loadModelSpec(m.dir);
  bf16 = await loadModelSpec((await ensureModel('tiny-minimax', 'bf16')).dir);
  ref = await loadReference(m.dir);
});
afterAll(() => engines.forEach((e) => e.dispose()));

describe('MiniMax-M2 forward on every kernel level (tiny-minimax, F32 weights, F32 KV)', () => {
  const tokens = randomTokens(90, 4242);
  for (const level of ['portable', 'avx2', 'avx512'] as const) {
    const have = levels.includes(level);
    if (!have) console.log(`kernel level ${level}: this CPU lacks it, skipped`);
    it.skipIf(!have)(`${level}: every position within 1e-4 of the float64 reference`, async () => {
      const e = await engine(f32, level);
      expect(e.kernels).toBe(level);
      const slot = e.createSlot(256, 'f32');
      const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
      const r = minimaxForward(ref, tokens);
      for (let p = 0; p < tokens.length; p++) {
        const lp = logSoftmax(row(out!.data, p, V));
        expect(argmax(lp)).toBe(argmax(r.logprobs[p]!));
        expect(maxAbsDiff(lp, r.logprobs[p]!) / maxAbs(r.logprobs[p]!)).toBeLessThan(1e-4);
      }
      slot.dispose();
    });
  }
});

describe('MiniMax-M2 forward: slots, batching, dtypes', () => {
  it('decode steps give the logits of a prefill; a batch of three slots equals each slot alone', async () => {
    const e = await engine(f32);
    const a = randomTokens(40, 1), b = randomTokens(9, 2), c = randomTokens(70, 3);
    const single = async (t: number[]) => {
      const s = e.createSlot(128, 'f32');
      const [o] = await e.forward([{ slot: s, tokens: t, logits: 'all' }]);
      s.dispose();
      return o!.data;
    };
    const [ra, rb, rc] = [await single(a), await single(b), await single(c)];
    const steps = e.createSlot(128, 'f32');
    await e.forward([{ slot: steps, tokens: a.slice(0, 30), logits: 'none' }]);
    for (let p = 30; p < 40; p++) {
      const [o] = await e.forward([{ slot: steps, tokens: [a[p]!], logits: 'last' }]);
      expect(maxAbsDiff(row(o!.data, 0, V), row(ra, p, V))).toBeLessThan(1e-3);
    }
    steps.dispose();
    const slots = [e.createSlot(128, 'f32'), e.createSlot(128, 'f32'), e.createSlot(128, 'f32')];
    const outs = await e.forward([
      { slot: slots[0]!, tokens: a, logits: 'all' },
      { slot: slots[1]!, tokens: b, logits: 'all' },
      { slot: slots[2]!, tokens: c.slice(0, 10), logits: 'all' },
    ]);
    expect(maxAbsDiff(outs[0]!.data, ra)).toBeLessThan(1e-3);
    expect(maxAbsDiff(outs[1]!.data, rb)).toBeLessThan(1e-3);
    expect(maxAbsDiff(outs[2]!.data, rc.subarray(0, 10 * V))).toBeLessThan(1e-3);
    slots.forEach((s) => s.dispose());
  });

  it('routes through the sigmoid router: expert statistics count n_used experts per token in every layer', async () => {
    const e = await engine(f32);
    const slot = e.createSlot(64, 'f32');
    const before = e.expertStats!().map((l) => l.counts.reduce((x, y) => x + y, 0));
    await e.forward([{ slot, tokens: randomTokens(20, 77), logits: 'none' }]);
    const stats = e.expertStats!();
    expect(stats).toHaveLength(4);
    stats.forEach((l, i) => expect(l.counts.reduce((x, y) => x + y, 0) - before[i]!).toBe(20 * 2));
    slot.dispose();
  });

  it('BF16 weights (the BF16 matmul path) match the float64 reference of the same BF16 weights', async () => {
    const tokens = randomTokens(64, 99);
    const e = await engine(bf16);
    const slot = e.createSlot(128, 'f32');
    const [out] = await e.forward([{ slot, tokens, logits: 'all' }]);
    const r = minimaxForward(await loadReference(bf16.dir), tokens);
    for (let p = 0; p < tokens.length; p++) {
      const lp = logSoftmax(row(out!.data, p, V));
      expect(argmax(lp)).toBe(argmax(r.logprobs[p]!));
      expect(maxAbsDiff(lp, r.logprobs[p]!) / maxAbs(r.logprobs[p]!)).toBeLessThan(1e-4);
    }
    slot.dispose();
  });
});

describe('MiniMax-M2 config.json', () => {
  const json = () => hfConfigJson(getPreset('tiny-minimax')!.config, 'f32');
  it('reads the published keys: rotary_dim, num_local_experts, sigmoid scoring, untied head', () => {
    const c = parseModelConfig(json(), 'config.json');
    expect(c.arch).toBe('minimax-m2');
    expect(c.ropeDim).toBe(32);
    expect(c.moe).toMatchObject({ numExperts: 8, numExpertsPerTok: 2, moeIntermediateSize: 64, gating: 'sigmoid', normTopkProb: true });
    expect(c.tieWordEmbeddings).toBe(false);
  });
  for (const [what, patch] of [
    ['softmax scoring', { scoring_func: 'softmax' }],
    ['no routing bias', { use_routing_bias: false }],
    ['a shared expert', { shared_intermediate_size: 512 }],
    ['FP8 weights', { quantization_config: { quant_method: 'fp8' } }],
    ['lightning attention layers', { attn_type_list: [1, 0, 1, 1] }],
  ] as const) {
    it(`rejects ${what} with UnsupportedModelError naming the file`, () => {
      expect(() => parseModelConfig({ ...json(), ...patch }, '/m/config.json')).toThrowError(UnsupportedModelError);
      expect(() => parseModelConfig({ ...json(), ...patch }, '/m/config.json')).toThrowError(/\/m\/config\.json/);
    });
  }
});
