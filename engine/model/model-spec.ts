/**
 * What the TS loader hands to the native engine: a validated config and one reference per tensor
 * into the mmapped safetensors files. The native side trusts nothing and re-checks shapes.
 */

export type WeightDType = 'bf16' | 'f16' | 'f32';

/** Qwen3 dense hyper-parameters, already validated. MoE fields are for Qwen3-MoE. */
export interface ModelConfig {
  arch: 'qwen3' | 'qwen3moe';
  vocabSize: number;
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Token ids that end generation (from generation_config.json / config.json). */
  eosTokenIds: number[];
  bosTokenId?: number;
  /** Qwen3-MoE only. */
  moe?: {
    numExperts: number;
    numExpertsPerTok: number;
    normTopkProb: boolean;
    moeIntermediateSize: number;
    decoderSparseStep: number;
    mlpOnlyLayers: number[];
  };
}

/** One tensor inside a safetensors file. `offset` is the absolute byte offset of its data in `file`. */
export interface TensorRef {
  name: string;
  file: string;
  offset: number;
  nbytes: number;
  dtype: WeightDType;
  shape: number[];
}

/** A loadable model: config plus tensors keyed by their Hugging Face names. */
export interface ModelSpec {
  dir: string;
  config: ModelConfig;
  tensors: TensorRef[];
  /** Dominant weight dtype of the checkpoint. */
  dtype: WeightDType;
  /** Stable hash of config + tensor names/shapes/dtypes + weight-file sizes: identifies the model for snapshots. */
  fingerprint: string;
}
