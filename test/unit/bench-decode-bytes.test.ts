/** decodeBytesPerToken: the bytes `resident bench` divides the probed memory read rate by. */
import { describe, expect, it } from 'vitest';
import { expectedTensors } from '../../engine/model/hf-model.js';
import { getPreset } from '../../engine/synth/model-presets.js';
import { decodeBytesPerToken } from '../../runtime/bench/decode-bytes.js';

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('decode bytes per token', () => {
  it('dense: every matrix of the checkpoint once (tied lm_head = the embedding), plus K and V at depth', () => {
    const c = getPreset('qwen3-0.6b')!.config;
    const kv = c.nLayers * 2 * c.nKvHeads * c.headDim * 2; // BF16 K and V of one position
    const matrices = expectedTensors(c).filter((t) => t.kind === 'matrix').reduce((a, t) => a + count(t.shape), 0);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(decodeBytesPerToken(c, 2, kv, 0)).toBe(matrices * 2);
    // K and V: layers × 2 × kv heads × head_dim values per position
    expect(decodeBytesPerToken(c, 2, kv, 1000) - decodeBytesPerToken(c, 2, kv, 0)).toBe(c.nLayers * 2 * c.nKvHeads * c.headDim * 1000 * 2);
    expect(decodeBytesPerToken(c, 2, kv, 0)).toBeGreaterThan(1.1e9); // Qwen3-0.6B in BF16: ≈ 1.19 GB
  });

  it('MoE: the router and the routed experts of each sparse layer, not all experts', () => {
    const c = getPreset('qwen3-30b-a3b-8l')!.config;
    const m = c.moe!;
    const all = expectedTensors(c).filter((t) => t.kind === 'matrix');
    const expertValues = all.filter((t) => t.name.includes('.experts.')).reduce((a, t) => a + count(t.shape), 0);
    const rest = all.filter((t) => !t.name.includes('.experts.')).reduce((a, t) => a + count(t.shape), 0);
    const lmHead = c.tieWordEmbeddings ? c.vocabSize * c.hiddenSize : 0; // untied: lm_head is among `rest`, the embedding is not read
    const embedding = c.vocabSize * c.hiddenSize;
    const used = expertValues * (m.numExpertsPerTok / m.numExperts);
    expect(decodeBytesPerToken(c, 1, 0, 0)).toBe(rest - embedding + lmHead + used);
  });

  it('hybrids: every matrix of the checkpoint once (MoE: routed experts only), the recurrent state read and written, KV of attention layers', () => {
    for (const preset of ['qwen3.5-0.8b', 'qwen3.6-35b-a3b-8l']) {
      const c = getPreset(preset)!.config;
      const la = c.linearAttention!;
      const all = expectedTensors(c).filter((t) => t.kind === 'matrix');
      const experts = all.filter((t) => t.name.includes('.experts.')).reduce((a, t) => a + count(t.shape), 0);
      const rest = all.filter((t) => !t.name.includes('.experts.')).reduce((a, t) => a + count(t.shape), 0);
      const embedding = c.vocabSize * c.hiddenSize, lmHead = c.tieWordEmbeddings ? embedding : 0;
      const used = c.moe ? experts * (c.moe.numExpertsPerTok / c.moe.numExperts) : 0;
      const linear = c.layerKinds!.filter((k) => k === 'linear').length;
      const conv = 2 * la.numKeyHeads * la.keyHeadDim + la.numValueHeads * la.valueHeadDim;
      const state = linear * 2 * 4 * ((la.convKernel - 1) * conv + la.numValueHeads * la.keyHeadDim * la.valueHeadDim);
      expect(linear).toBeGreaterThan(0);
      expect(decodeBytesPerToken(c, 2, 0, 0)).toBeCloseTo((rest - embedding + lmHead + used) * 2 + state, 0);
      expect(decodeBytesPerToken(c, 2, 1000, 10) - decodeBytesPerToken(c, 2, 1000, 0)).toBe(10_000);
    }
  });
});
