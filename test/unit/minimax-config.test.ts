/**
 * MiniMax-M2 presets and config.json: every preset's config.json (the published MiniMaxM2ForCausalLM keys) reads back
 * as the preset; the real-shape presets have the released layer shapes, and their BF16 sizes are what the presets'
 * summaries say (minimax-m2-8l ≈ 61 GB: more than this machine holds; minimax-m2-2l-64e ≈ 6.3 GB, the bench size).
 */
import { describe, expect, it } from 'vitest';
import { expectedTensors, parseModelConfig } from '../../engine/model/hf-model.js';
import { hfConfigJson } from '../../engine/synth/make-model.js';
import { getPreset } from '../../engine/synth/model-presets.js';

const bf16Bytes = (name: string) => expectedTensors(getPreset(name)!.config).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 2, 0);

describe('MiniMax-M2 presets', () => {
  for (const name of ['tiny-minimax', 'minimax-m2-8l', 'minimax-m2-2l-64e']) {
    it(`${name}: config.json reads back as the preset`, () => {
      const c = getPreset(name)!.config;
      expect(parseModelConfig(hfConfigJson(c, 'bf16'), 'config.json', { eos_token_id: c.eosTokenIds })).toEqual(c);
    });
  }
  it('real shapes: hidden 3072, 48/8 heads × 128 with 64 rotated, 256 experts of 1536, 8 active; sizes as documented', () => {
    const c = getPreset('minimax-m2-8l')!.config;
    expect(c).toMatchObject({ hiddenSize: 3072, nHeads: 48, nKvHeads: 8, headDim: 128, ropeDim: 64, vocabSize: 200064, nLayers: 8, tieWordEmbeddings: false });
    expect(c.moe).toMatchObject({ numExperts: 256, numExpertsPerTok: 8, moeIntermediateSize: 1536, gating: 'sigmoid' });
    expect(bf16Bytes('minimax-m2-8l') / 1e9).toBeCloseTo(61.2, 0);
    expect(bf16Bytes('minimax-m2-2l-64e') / 1e9).toBeCloseTo(6.26, 1);
  });
});
