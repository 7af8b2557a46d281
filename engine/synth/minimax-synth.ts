/**
 * Generated MiniMax-M2 folders: config.json in the published MiniMaxM2ForCausalLM form, and the random-weight init
 * of each tensor (the counterpart of make-model's `initFor`): logits ≈ N(0, 10²) over the vocabulary, attention
 * logits of std ≈ 1.8², router logits ≈ N(0, 2²) (σ spread over (0, 1)) with score-correction biases ≈ N(0, 0.2²)
 * that change some choices, and every sublayer adding a residual update of the embedding's order.
 */
import { ModelLoadError } from '../errors.js';
import type { ModelConfig, WeightDType } from '../model/model-spec.js';

const TORCH_DTYPE: Record<WeightDType, string> = { bf16: 'bfloat16', f16: 'float16', f32: 'float32' };
const LOGIT_SPREAD = 10;
const QK_GAIN = 1.8;
const ROUTER_SPREAD = 2;
const ROUTER_BIAS_STD = 0.2;
const ATTN_OUT_GAIN = 2;
const MLP_OUT_GAIN = 2.5;

/** config.json of MiniMax-M2 config `c` (the released checkpoint's keys; no MTP modules are written). */
export function minimaxConfigJson(c: ModelConfig, dtype: WeightDType): Record<string, unknown> {
  const m = c.moe!;
  return {
    architectures: ['MiniMaxM2ForCausalLM'],
    attn_type_list: Array.from({ length: c.nLayers }, () => 1),
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenIds[0] ?? null,
    head_dim: c.headDim,
    hidden_act: 'silu',
    hidden_size: c.hiddenSize,
    intermediate_size: m.moeIntermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    model_type: 'minimax_m2',
    num_attention_heads: c.nHeads,
    num_experts_per_tok: m.numExpertsPerTok,
    num_hidden_layers: c.nLayers,
    num_key_value_heads: c.nKvHeads,
    num_local_experts: m.numExperts,
    num_mtp_modules: 0,
    qk_norm_type: 'per_layer',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rotary_dim: c.ropeDim ?? c.headDim,
    router_aux_loss_coef: 0.001,
    router_jitter_noise: 0.0,
    scoring_func: 'sigmoid',
    shared_intermediate_size: 0,
    tie_word_embeddings: false,
    torch_dtype: TORCH_DTYPE[dtype],
    transformers_version: '4.46.1',
    use_cache: true,
    use_mtp: false,
    use_qk_norm: true,
    use_routing_bias: true,
    vocab_size: c.vocabSize,
  };
}

/** mean and std of tensor `name` (value = mean + std·n, n ≈ N(0, 1)). */
export function minimaxInitFor(name: string, c: ModelConfig): { mean: number; std: number } {
  const H = c.hiddenSize;
  const m = c.moe!;
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return { mean: 0, std: 1 };
  if (name === 'model.norm.weight') {
    const g = LOGIT_SPREAD / Math.sqrt(H);
    return { mean: g, std: 0.05 * g };
  }
  if (name.endsWith('q_norm.weight') || name.endsWith('k_norm.weight')) return { mean: QK_GAIN, std: 0.1 };
  if (name.endsWith('layernorm.weight')) return { mean: 1, std: 0.05 };
  if (name.endsWith('block_sparse_moe.gate.weight')) return { mean: 0, std: ROUTER_SPREAD / Math.sqrt(H) };
  if (name.endsWith('e_score_correction_bias')) return { mean: 0, std: ROUTER_BIAS_STD };
  if (/(q|k|v)_proj\.weight$/.test(name) || /\.w[13]\.weight$/.test(name)) return { mean: 0, std: 1 / Math.sqrt(H) };
  if (name.endsWith('o_proj.weight')) return { mean: 0, std: ATTN_OUT_GAIN / Math.sqrt(c.nHeads * c.headDim) };
  // k experts mixed with weights summing to 1 shrink the rms by ≈ √k: compensate
  if (name.endsWith('.w2.weight')) return { mean: 0, std: (MLP_OUT_GAIN * Math.sqrt(m.numExpertsPerTok)) / Math.sqrt(m.moeIntermediateSize) };
  throw new ModelLoadError(`no init rule for tensor '${name}'`, undefined, name);
}
