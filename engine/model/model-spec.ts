/**
 * What the TS loader hands to the native engine: a validated config and one reference per tensor
 * into the mmapped safetensors files. The native side trusts nothing and re-checks shapes.
 */

export type WeightDType = 'bf16' | 'f16' | 'f32';
/** ggml's block-quantized types as GGUF files store them (engine/native/common.h has their layouts). */
export type QuantDType = 'q8_0' | 'q4_0' | 'q4_k' | 'q5_k' | 'q6_k';
/** The type of one bound tensor: a float type or a block-quantized one (GGUF files mix them per tensor). */
export type TensorDType = WeightDType | QuantDType;

/** Token mixer of one layer: softmax attention with a KV cache, or Gated DeltaNet linear attention (recurrent state). */
export type LayerKind = 'attention' | 'linear';

/** Gated DeltaNet sizes (Qwen3.5 `linear_*` keys). Value heads are grouped by key head: v-head h reads k-head ⌊h / (numValueHeads / numKeyHeads)⌋. */
export interface LinearAttentionConfig {
  convKernel: number;
  numKeyHeads: number;
  numValueHeads: number;
  keyHeadDim: number;
  valueHeadDim: number;
}

/**
 * The id of a model family's variant (`ModelConfig.arch`), validated by the registry of families
 * (engine/model/families/registry.ts): built in are 'qwen3' / 'qwen3moe' (Qwen3 dense / MoE), 'qwen35' / 'qwen35moe'
 * (the Qwen3.5 / 3.6 hybrids) and 'minimax-m2'. It is also the GGUF `general.architecture` of the family's files.
 */
export type ArchId = string;

/**
 * Validated hyper-parameters. Hybrids (qwen35*) also carry `layerKinds`, `linearAttention`, `ropeDim`, `mropeSection`
 * and `weightPrefix`; for Qwen3 those fields are absent (every layer is attention over the whole head). MiniMax-M2:
 * every layer attention + sigmoid-routed MoE, q/k norms over all heads, `ropeDim` of `headDim` rotated;
 * `intermediateSize` 0, the experts' width is `moe.moeIntermediateSize`.
 */
export interface ModelConfig {
  arch: ArchId;
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
  /** MoE models only. */
  moe?: {
    numExperts: number;
    numExpertsPerTok: number;
    normTopkProb: boolean;
    moeIntermediateSize: number;
    decoderSparseStep: number;
    mlpOnlyLayers: number[];
    /** Qwen3.5-MoE: size of the one shared expert (its output is scaled by sigmoid(shared_expert_gate · x)). */
    sharedExpertIntermediateSize?: number;
    /** Router scores: softmax over the experts (absent), or σ per expert with a per-expert score-correction bias used for choosing only (MiniMax-M2). */
    gating?: 'softmax' | 'sigmoid';
  };
  /** Hybrids: the token mixer of each layer (length nLayers). Absent: every layer is 'attention'. */
  layerKinds?: LayerKind[];
  /** Hybrids: Gated DeltaNet sizes of the 'linear' layers. */
  linearAttention?: LinearAttentionConfig;
  /** Hybrids: rotated dims per head (head_dim × partial_rotary_factor, NEOX pairs (i, i + ropeDim/2)); the rest pass through. Absent: headDim. */
  ropeDim?: number;
  /** Hybrids: multimodal RoPE sections (pairs per t/h/w position); for text all three positions are the token's, so it reduces to plain RoPE. */
  mropeSection?: number[];
  /** Hybrids: prefix of the text model's tensor names ('model.language_model.' in the multimodal checkpoints, 'model.' in text-only ones). Absent: 'model.'. */
  weightPrefix?: string;
  /** Hybrids: MTP (next-token-prediction) layers shipped as `mtp.*` tensors; recognised, not run. */
  mtpLayers?: number;
}

/** A tensor the architecture needs, with its Hugging Face name and shape. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Norm weights (1-D); matrices (matmul weights, any rank); params: small non-matmul parameters (conv kernel, decay, dt bias). */
  kind: 'norm' | 'matrix' | 'param';
  /** Norm whose scale is (1 + w) (Qwen3.5's zero-centred RMSNorm); absent: the scale is w. */
  zeroCentred?: boolean;
}

/**
 * One tensor inside a safetensors or GGUF file. `offset` is the absolute byte offset of its data in `file`.
 * With `data`, the bytes are these (a GGUF tensor the converter transformed, inverted at load: zero-centred norms,
 * A_log, reordered value heads); `file` is then `<gguf path>#<name>`, unique per such tensor.
 */
export interface TensorRef<D extends TensorDType = WeightDType> {
  name: string;
  file: string;
  offset: number;
  nbytes: number;
  dtype: D;
  shape: number[];
  data?: Uint8Array;
}

/** A loadable model: config plus tensors keyed by their Hugging Face names. */
export interface ModelSpec<D extends TensorDType = WeightDType> {
  dir: string;
  config: ModelConfig;
  tensors: TensorRef<D>[];
  /**
   * The float dtype the matrices compute from: the checkpoint's matrix dtype (HF folders refuse mixed ones); for a
   * GGUF, the float matrices' common dtype, or 'f16' once any matrix is quantized or float matrices mix. It is the
   * default KV dtype and the gate of BF16 activations.
   */
  dtype: WeightDType;
  /** Distinct dtypes of the matrices, sorted (one entry for HF folders; several for a Q4_K_M GGUF). */
  matrixTypes?: TensorDType[];
  /** Where the weights come from. Absent: a Hugging Face folder. */
  format?: 'hf' | 'gguf';
  /**
   * Stable hash of config + tensor names/shapes/dtypes + weight-file sizes (HF), or of config + tokenizer + every
   * tensor's name, shape and type (GGUF): identifies the model for snapshots, so KV is never reused across types.
   */
  fingerprint: string;
}
