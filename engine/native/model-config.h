// What a model is — its architecture, dimensions and the kind of each layer — as the TS side passes it
// (addon/args.cpp), and the options of one load.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace resident {

// A layer's token mixer: softmax attention over the slot's KV regions, or linear attention over a fixed-size
// recurrent state (the slot's recurrent blob for that layer).
enum class mixer_kind : uint8_t { attention, linear_attention };
// A layer's feed-forward block: the dense SwiGLU MLP of width `inter`, or the sparse mixture of experts.
enum class ffn_kind : uint8_t { dense, moe };

// How the MoE router turns logits into expert scores. softmax: probabilities over all experts, chosen and
// weighted by them (Qwen3-MoE). sigmoid: σ(logit) per expert, chosen by σ + the layer's score-correction bias,
// weighted by σ alone (MiniMax-M2, DeepSeek-V3 style).
enum class moe_gating : uint8_t { softmax, sigmoid };

struct layer_kind {
  mixer_kind mixer = mixer_kind::attention;
  ffn_kind ffn = ffn_kind::dense;
};

// Linear-attention (Gated DeltaNet) dimensions. Per linear layer the recurrent state is, in f32: the causal conv
// state [conv_kernel - 1][conv_channels] (conv_channels = q, k and v channels), then the delta state
// [n_v_head][head_k_dim][head_v_dim].
struct linear_attention_config {
  int conv_kernel = 0, n_k_head = 0, n_v_head = 0, head_k_dim = 0, head_v_dim = 0;
  int conv_channels() const { return 2 * n_k_head * head_k_dim + n_v_head * head_v_dim; }
  size_t state_floats() const {
    return size_t(conv_kernel > 1 ? conv_kernel - 1 : 0) * size_t(conv_channels()) + size_t(n_v_head) * head_k_dim * head_v_dim;
  }
};

struct model_config {
  std::string arch = "qwen3";  // the forward file that runs it (models/architectures.cpp)
  std::string weight_prefix = "model.";  // of the text model's tensor names ('model.language_model.' in Qwen3.5's multimodal checkpoints)
  int vocab = 0, hidden = 0, n_layer = 0, n_head = 0, n_kv_head = 0, head_dim = 0, inter = 0;
  float eps = 1e-6f, rope_theta = 1e6f;
  int rope_dim = 0;  // rotated dims per head, NEOX pairs (i, i + rope_dim / 2); the rest pass through. 0: head_dim
  bool tied = true;
  // Mixture of experts (layers of kind ffn_kind::moe): router softmax over n_expert, top n_expert_used,
  // renormalized over the chosen when norm_topk; each expert a SwiGLU MLP of width moe_inter. (Qwen3.5-MoE's
  // shared expert is a SwiGLU MLP of width `inter`.)
  int n_expert = 0, n_expert_used = 0, moe_inter = 0;
  bool norm_topk = false;
  moe_gating gating = moe_gating::softmax;
  linear_attention_config linear;  // layers of kind mixer_kind::linear_attention
  std::vector<layer_kind> layers;  // [n_layer]

  int rot_dim() const { return rope_dim > 0 ? rope_dim : head_dim; }
  bool moe(int layer) const { return layers[size_t(layer)].ffn == ffn_kind::moe; }
  int count(mixer_kind k) const {
    int n = 0;
    for (const layer_kind& l : layers) n += l.mixer == k ? 1 : 0;
    return n;
  }
  bool any_moe() const {
    for (const layer_kind& l : layers)
      if (l.ffn == ffn_kind::moe) return true;
    return false;
  }
};

struct engine_options {
  int threads = 1;
  int max_tokens = 512;
  bool portable = false;          // force the portable kernels
  std::string kernels = "auto";   // highest kernel level allowed: auto | avx512 | avx2 | portable
  bool int8 = false;              // quantize matmul weights to q8 at load (quantize.cpp)
  bool bf16_activations = false;  // round activations to bf16 before every bf16-weight matmul (matmul.cpp)
};

}  // namespace resident
