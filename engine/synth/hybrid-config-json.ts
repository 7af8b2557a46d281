/**
 * config.json of a generated Qwen3.5 / 3.6 hybrid, laid out like the published multimodal checkpoints
 * (Qwen3.5-0.8B, Qwen3.6-35B-A3B): architectures Qwen3_5(Moe)ForConditionalGeneration, the text settings under
 * `text_config` (with `layer_types`, `linear_*`, `rope_parameters` holding partial_rotary_factor and the MRoPE
 * sections), and a `vision_config` whose weights make-model does not write (the vision tower is not run).
 */
import type { ModelConfig, WeightDType } from '../model/model-spec.js';

const TORCH_DTYPE: Record<WeightDType, string> = { bf16: 'bfloat16', f16: 'float16', f32: 'float32' };

/** The published config.json shape for hybrid config `c`. */
export function hybridConfigJson(c: ModelConfig, dtype: WeightDType): Record<string, unknown> {
  const moe = c.arch === 'qwen35moe';
  const la = c.linearAttention!;
  const text: Record<string, unknown> = {
    attention_bias: false,
    attention_dropout: 0.0,
    attn_output_gate: true,
    dtype: TORCH_DTYPE[dtype],
    eos_token_id: c.eosTokenIds[c.eosTokenIds.length - 1],
    full_attention_interval: 4,
    head_dim: c.headDim,
    hidden_act: 'silu',
    hidden_size: c.hiddenSize,
    initializer_range: 0.02,
    layer_types: c.layerKinds!.map((k) => (k === 'linear' ? 'linear_attention' : 'full_attention')),
    linear_conv_kernel_dim: la.convKernel,
    linear_key_head_dim: la.keyHeadDim,
    linear_num_key_heads: la.numKeyHeads,
    linear_num_value_heads: la.numValueHeads,
    linear_value_head_dim: la.valueHeadDim,
    mamba_ssm_dtype: 'float32',
    max_position_embeddings: c.maxPositionEmbeddings,
    model_type: moe ? 'qwen3_5_moe_text' : 'qwen3_5_text',
    mtp_num_hidden_layers: c.mtpLayers ?? 0,
    mtp_use_dedicated_embeddings: false,
    num_attention_heads: c.nHeads,
    num_hidden_layers: c.nLayers,
    num_key_value_heads: c.nKvHeads,
    rms_norm_eps: c.rmsNormEps,
    rope_parameters: {
      mrope_interleaved: true,
      mrope_section: c.mropeSection,
      rope_type: 'default',
      rope_theta: c.ropeTheta,
      partial_rotary_factor: (c.ropeDim ?? c.headDim) / c.headDim,
    },
    tie_word_embeddings: c.tieWordEmbeddings,
    use_cache: true,
    vocab_size: c.vocabSize,
  };
  if (moe) {
    const m = c.moe!;
    Object.assign(text, {
      moe_intermediate_size: m.moeIntermediateSize,
      num_experts: m.numExperts,
      num_experts_per_tok: m.numExpertsPerTok,
      output_router_logits: false,
      router_aux_loss_coef: 0.001,
      shared_expert_intermediate_size: m.sharedExpertIntermediateSize,
    });
  } else {
    text.intermediate_size = c.intermediateSize;
  }
  const sorted = Object.fromEntries(Object.entries(text).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    architectures: [moe ? 'Qwen3_5MoeForConditionalGeneration' : 'Qwen3_5ForConditionalGeneration'],
    image_token_id: 248056,
    model_type: moe ? 'qwen3_5_moe' : 'qwen3_5',
    text_config: sorted,
    tie_word_embeddings: c.tieWordEmbeddings,
    transformers_version: '4.57.1',
    video_token_id: 248057,
    vision_config: {
      deepstack_visual_indexes: [],
      depth: 12,
      hidden_act: 'gelu_pytorch_tanh',
      hidden_size: 768,
      in_channels: 3,
      initializer_range: 0.02,
      intermediate_size: 3072,
      model_type: moe ? 'qwen3_5_moe' : 'qwen3_5',
      num_heads: 12,
      num_position_embeddings: 2304,
      out_hidden_size: c.hiddenSize,
      patch_size: 16,
      spatial_merge_size: 2,
      temporal_patch_size: 2,
    },
    vision_end_token_id: 248054,
    vision_start_token_id: 248053,
  };
}
