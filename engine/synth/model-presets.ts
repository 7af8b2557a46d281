/**
 * Shapes of the generated test models (`resident make-model --preset NAME`). Each preset is a full
 * ModelConfig; token ids are Qwen3's (bos 151643, eos [151645, 151643]) except for the presets on the
 * Qwen3.5 vocabulary (`vocabulary: 'qwen35'`).
 */
import type { LayerKind, ModelConfig } from '../model/model-spec.js';
import type { InitGains } from './make-model.js';

/** A named model shape. */
export interface ModelPreset {
  name: string;
  summary: string;
  config: ModelConfig;
  /** Vocabulary its token ids belong to (default 'qwen3': 151,936 rows, Qwen3's special ids). */
  vocabulary?: 'qwen3' | 'qwen35' | 'minimax';
  /** Gains of the random init (Qwen3 / Qwen3-MoE presets; default make-model's RANDOM_GAINS). */
  init?: InitGains;
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

/**
 * tiny-256-calm's gains. The random gains (make-model's RANDOM_GAINS: each sublayer rewrites the stream, attention
 * logits spread ≈ 3) make a chaotic model: a last-bit difference that flips one 8-bit activation rounding grows
 * through the layers (tiny-256's own Q4_K_M file against its BF16 values: top-1 8 %, KL 11, where Llama-3-8B's agrees
 * at 92 %, KL 0.03 — llama.cpp's perplexity README). Here each sublayer adds an update of rms 0.15 × a unit stream (a
 * trained model's layers nudge a stream that carries the past) and attention logits spread ≈ 1; logits stay
 * N(0, 10²) over the vocabulary. Measured: Q8_0 / Q4_K_M file vs BF16 top-1 99 / 82.5 %, KL 1.9e-3 / 0.14 (Llama-3-8B
 * 97.7 / 91.9 %, 1.4e-3 / 0.03); top-1 margin median 1.5–1.9 nats (tiny-256: 1.4), top-1 probability ≈ 0.7; the
 * layers still move the top-1 away from the embedding → lm_head path alone at 40 % of positions (tiny-256: 100 %).
 */
const CALM_GAINS = { logitSpread: 10, qkGain: 1, routerSpread: 2, attnOutGain: 0.15, mlpOutGain: 0.15 };

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
    name: 'tiny-256',
    summary: 'tiny with hidden 256, intermediate 768, untied: every matrix row whole 256-blocks (k-quant GGUF tests)',
    config: { ...tiny, hiddenSize: 256, intermediateSize: 768, tieWordEmbeddings: false },
  },
  {
    name: 'tiny-256-calm',
    summary: 'tiny-256 with trained-like conditioning (quantized-file oracle tests): residual updates 0.15 × the stream, attention-logit spread ≈ 1',
    config: { ...tiny, hiddenSize: 256, intermediateSize: 768, tieWordEmbeddings: false },
    init: CALM_GAINS,
  },
  {
    name: 'tiny-256-moe',
    summary: 'tiny-256 as Qwen3-MoE: 8 experts, 2 active, moe_intermediate 256',
    config: {
      ...tiny,
      hiddenSize: 256,
      arch: 'qwen3moe',
      tieWordEmbeddings: false,
      moe: { numExperts: 8, numExpertsPerTok: 2, normTopkProb: true, moeIntermediateSize: 256, decoderSparseStep: 1, mlpOnlyLayers: [] },
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

/** Ids of the MiniMax template's begin / end markers (`]~!b[`, `[e~[`) in the Qwen3-vocabulary MiniMax presets (minimax-tokenizer.ts). */
export const MINIMAX_BOS = 151669;
export const MINIMAX_EOS = 151671;

/** Qwen3.5 / 3.6 vocabulary: embedding rows and special ids (<|endoftext|> 248044, <|im_end|> 248046). */
export const QWEN35_VOCAB = 248320;
export const QWEN35_BOS = 248044;
export const QWEN35_EOS = [248046, 248044];

/** Qwen3.5 hybrid settings shared by the presets: layers 3, 7, … full attention, a quarter of each head rotated. */
const hybridBase = {
  rmsNormEps: 1e-6,
  ropeTheta: 10_000_000,
  weightPrefix: 'model.language_model.',
  mtpLayers: 1,
};
/** The real Qwen3.5 / 3.6 checkpoints' shared settings: their vocabulary and ids, 256-dim heads with 64 rotated. */
const realHybrid = {
  ...hybridBase,
  vocabSize: QWEN35_VOCAB,
  maxPositionEmbeddings: 262144,
  eosTokenIds: QWEN35_EOS,
  bosTokenId: QWEN35_BOS,
  headDim: 256,
  ropeDim: 64,
  mropeSection: [11, 11, 10],
};
const kinds = (n: number): LayerKind[] => Array.from({ length: n }, (_, i) => ((i + 1) % 4 === 0 ? 'attention' : 'linear'));

/**
 * tiny-hybrid: Qwen3's vocabulary (so the built-in / Qwen3 tokenizer fits, as for `tiny`) on a Qwen3.5 body small
 * enough for a float64 reference: 4 layers (3 Gated DeltaNet + 1 gated attention), GQA 4/2 × 64 with 16 rotated dims,
 * 2 key heads / 4 value heads × 32 (grouped values, reordered for llama.cpp), conv kernel 4.
 */
const tinyHybrid: ModelConfig = {
  ...tiny, // hidden 128, 4 layers, 4/2 heads × 64, intermediate 384, tied, θ 1e6
  ...hybridBase,
  ropeTheta: tiny.ropeTheta,
  arch: 'qwen35',
  layerKinds: kinds(4),
  linearAttention: { convKernel: 4, numKeyHeads: 2, numValueHeads: 4, keyHeadDim: 32, valueHeadDim: 32 },
  ropeDim: 16,
  mropeSection: [3, 3, 2],
};

const HYBRID_PRESETS: ModelPreset[] = [
  { name: 'tiny-hybrid', summary: 'tiny Qwen3.5 hybrid: hidden 128, 3 DeltaNet + 1 attention layers, 4/2 heads × 64 (16 rotated), DeltaNet 2/4 heads × 32, tied', config: tinyHybrid },
  {
    name: 'tiny-256-hybrid',
    summary: 'tiny-hybrid with hidden 256, intermediate 768, untied, DeltaNet 2/4 heads × 64: matrix rows whole 256-blocks, value heads quarter blocks (k-quant GGUF tests)',
    config: { ...tinyHybrid, hiddenSize: 256, intermediateSize: 768, tieWordEmbeddings: false, linearAttention: { ...tinyHybrid.linearAttention!, keyHeadDim: 64, valueHeadDim: 64 } },
  },
  {
    name: 'tiny-hybrid-moe',
    summary: 'tiny-hybrid with Qwen3.5-MoE layers: 8 experts, 2 active, moe_intermediate 64, shared expert 96, untied',
    config: {
      ...tinyHybrid,
      arch: 'qwen35moe',
      intermediateSize: 0,
      tieWordEmbeddings: false,
      moe: { numExperts: 8, numExpertsPerTok: 2, normTopkProb: true, moeIntermediateSize: 64, decoderSparseStep: 1, mlpOnlyLayers: [], sharedExpertIntermediateSize: 96 },
    },
  },
  {
    name: 'qwen3.5-0.8b',
    summary: 'the real Qwen3.5-0.8B text shapes: hidden 1024, 24 layers (18 DeltaNet 16/16 × 128, 6 attention 8/2 × 256), intermediate 3584, tied',
    vocabulary: 'qwen35',
    config: {
      ...realHybrid,
      arch: 'qwen35',
      hiddenSize: 1024,
      nLayers: 24,
      nHeads: 8,
      nKvHeads: 2,
      intermediateSize: 3584,
      tieWordEmbeddings: true,
      layerKinds: kinds(24),
      linearAttention: { convKernel: 4, numKeyHeads: 16, numValueHeads: 16, keyHeadDim: 128, valueHeadDim: 128 },
    },
  },
  {
    name: 'qwen3.6-35b-a3b-8l',
    summary: 'Qwen3.6-35B-A3B shapes cut to 8 layers (two DeltaNet×3 + attention groups): hidden 2048, 16/2 heads × 256, DeltaNet 16/32 × 128, 256 experts (8 active) × 512 + shared 512',
    vocabulary: 'qwen35',
    config: {
      ...realHybrid,
      arch: 'qwen35moe',
      hiddenSize: 2048,
      nLayers: 8,
      nHeads: 16,
      nKvHeads: 2,
      intermediateSize: 0,
      tieWordEmbeddings: false,
      layerKinds: kinds(8),
      linearAttention: { convKernel: 4, numKeyHeads: 16, numValueHeads: 32, keyHeadDim: 128, valueHeadDim: 128 },
      moe: { numExperts: 256, numExpertsPerTok: 8, normTopkProb: true, moeIntermediateSize: 512, decoderSparseStep: 1, mlpOnlyLayers: [], sharedExpertIntermediateSize: 512 },
    },
  },
];
PRESETS.push(...HYBRID_PRESETS);

/**
 * MiniMax-M2 presets: Qwen3's vocabulary plus the MiniMax template's role markers and tool-call tags as added tokens
 * (`vocabulary: 'minimax'`, see minimax-tokenizer.ts); the real shapes otherwise (3072 hidden, 48/8 heads × 128 with
 * 64 rotated, 256 experts of 1536, 8 active, vocabulary rows 200,064). `minimax-m2-8l` is ≈ 61 GB in BF16: more
 * than a 24 GiB / 59 GB-disk machine holds; `minimax-m2-2l-64e` keeps the real layer shapes with 2 layers and 64
 * experts (≈ 6.2 GB BF16) for benchmarks that must fit.
 */
const minimaxBase = {
  ...base,
  arch: 'minimax-m2' as const,
  rmsNormEps: 1e-6,
  ropeTheta: 5_000_000,
  maxPositionEmbeddings: 196608,
  eosTokenIds: [MINIMAX_EOS],
  bosTokenId: MINIMAX_BOS,
  intermediateSize: 0,
  tieWordEmbeddings: false,
};
const minimaxReal = (nLayers: number, numExperts: number): ModelConfig => ({
  ...minimaxBase,
  vocabSize: 200064,
  hiddenSize: 3072,
  nLayers,
  nHeads: 48,
  nKvHeads: 8,
  headDim: 128,
  ropeDim: 64,
  moe: { numExperts, numExpertsPerTok: 8, normTopkProb: true, moeIntermediateSize: 1536, decoderSparseStep: 1, mlpOnlyLayers: [], gating: 'sigmoid' },
});
const MINIMAX_PRESETS: ModelPreset[] = [
  {
    name: 'tiny-minimax',
    summary: 'tiny MiniMax-M2: hidden 128, 4 layers, 4/2 heads × 64 (32 rotated), q/k norms over all heads, 8 experts (2 active, sigmoid + bias) × 64, untied',
    vocabulary: 'minimax',
    config: {
      ...minimaxBase,
      hiddenSize: 128,
      nLayers: 4,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 64,
      ropeDim: 32,
      moe: { numExperts: 8, numExpertsPerTok: 2, normTopkProb: true, moeIntermediateSize: 64, decoderSparseStep: 1, mlpOnlyLayers: [], gating: 'sigmoid' },
    },
  },
  { name: 'minimax-m2-8l', summary: 'MiniMax-M2.5 shapes cut to 8 layers: hidden 3072, 48/8 heads × 128 (64 rotated), 256 experts (8 active) × 1536 — ≈ 61 GB BF16', vocabulary: 'minimax', config: minimaxReal(8, 256) },
  { name: 'minimax-m2-2l-64e', summary: 'MiniMax-M2.5 layer shapes, 2 layers of 64 experts (8 active) × 1536 — ≈ 6.2 GB BF16, the benchmark size that fits', vocabulary: 'minimax', config: minimaxReal(2, 64) },
];
PRESETS.push(...MINIMAX_PRESETS);

/** Names of all presets, in listing order. */
export function presetNames(): string[] {
  return PRESETS.map((p) => p.name);
}

/** The preset of that name, or undefined. The returned config is a fresh copy. */
export function getPreset(name: string): ModelPreset | undefined {
  const p = PRESETS.find((x) => x.name === name);
  return p && { ...p, config: structuredClone(p.config) };
}
