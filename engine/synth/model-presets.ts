/**
 * Shapes of the generated test models (`resident make-model --preset NAME`). Each preset is a full
 * ModelConfig minus the token ids, which are Qwen3's (bos 151643, eos [151645, 151643]).
 */
import type { ModelConfig } from '../model/model-spec.js';

/** A named model shape. */
export interface ModelPreset {
  name: string;
  summary: string;
  config: ModelConfig;
}

/** Qwen3's special token ids, shared by every preset. */
export const QWEN3_BOS = 151643;
export const QWEN3_EOS = [151645, 151643];
export const QWEN3_VOCAB = 151936;

const base = {
  vocabSize: QWEN3_VOCAB,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  maxPositionEmbeddings: 40960,
  eosTokenIds: QWEN3_EOS,
  bosTokenId: QWEN3_BOS,
};

const tiny: ModelConfig = {
  ...base,
  arch: 'qwen3',
  hiddenSize: 128,
  nLayers: 4,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 64,
  intermediateSize: 384,
  tieWordEmbeddings: true,
};

const PRESETS: ModelPreset[] = [
  { name: 'tiny', summary: 'hidden 128, 4 layers, 4/2 heads × 64, tied (≈20 M params, mostly embedding)', config: tiny },
  { name: 'tiny-untied', summary: 'tiny with a separate lm_head', config: { ...tiny, tieWordEmbeddings: false } },
  {
    name: 'tiny-moe',
    summary: 'tiny Qwen3-MoE: 8 experts, 2 active, moe_intermediate 64',
    config: {
      ...tiny,
      arch: 'qwen3moe',
      tieWordEmbeddings: false,
      moe: { numExperts: 8, numExpertsPerTok: 2, normTopkProb: true, moeIntermediateSize: 64, decoderSparseStep: 1, mlpOnlyLayers: [] },
    },
  },
  {
    name: 'qwen3-0.6b',
    summary: 'the real Qwen3-0.6B shapes: hidden 1024, 28 layers, 16/8 heads × 128, intermediate 3072, tied',
    config: {
      ...base,
      arch: 'qwen3',
      hiddenSize: 1024,
      nLayers: 28,
      nHeads: 16,
      nKvHeads: 8,
      headDim: 128,
      intermediateSize: 3072,
      tieWordEmbeddings: true,
    },
  },
  {
    name: 'qwen3-30b-a3b-8l',
    summary: 'Qwen3-30B-A3B shapes cut to 8 layers: hidden 2048, 32/4 heads × 128, 128 experts (8 active) × 768',
    config: {
      ...base,
      arch: 'qwen3moe',
      hiddenSize: 2048,
      nLayers: 8,
      nHeads: 32,
      nKvHeads: 4,
      headDim: 128,
      intermediateSize: 6144,
      tieWordEmbeddings: false,
      moe: { numExperts: 128, numExpertsPerTok: 8, normTopkProb: true, moeIntermediateSize: 768, decoderSparseStep: 1, mlpOnlyLayers: [] },
    },
  },
];

/** Names of all presets, in listing order. */
export function presetNames(): string[] {
  return PRESETS.map((p) => p.name);
}

/** The preset of that name, or undefined. The returned config is a fresh copy. */
export function getPreset(name: string): ModelPreset | undefined {
  const p = PRESETS.find((x) => x.name === name);
  return p && { ...p, config: structuredClone(p.config) };
}
