// A loaded model: the building blocks every architecture's forward pass is made of — matmul over the thread pool,
// RMSNorm rows, RoPE and head-by-head attention over state slots, the SwiGLU MLP, the mixture of experts, logits —
// with their activation buffers, sized once at load for max_tokens tokens per forward call, and the weights.
// An architecture (models/<arch>.cpp, chosen by model_config::arch) derives from it: binds its tensors and runs
// its layers with these blocks, as llama.cpp's src/models/<arch>.cpp do.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "model-config.h"
#include "state-slot.h"
#include "thread-pool.h"
#include "weight-store.h"

namespace resident {

// Token rows per matmul kernel call: f32 activations in blocks of 64 that stay in L2; the bf16 dot path
// packs each weight panel once per call, so it takes every row at once (bf16 x is half the size).
inline int matmul_token_block(bool bf16_dot) { return bf16_dot ? 1 << 30 : 64; }

// How a matmul's tasks are claimed: up to a row tile's tokens (decode, batched decode) a weight is read once at
// memory speed, best as one ordered stream per thread; prefill's tasks reuse weights from cache, interleaved.
inline claim_order stream_order(int n_tokens) { return n_tokens <= matmul_tile_tokens_max ? claim_order::ranges : claim_order::interleaved; }

// One sequence of a forward call: tokens [offset, offset + count) of the batch go to positions
// [slot->length, slot->length + count) of `slot`.
struct seq_entry {
  state_slot* slot;
  int offset, count;
};

struct batch {
  const int32_t* tokens = nullptr;
  int n_tokens = 0;
  const seq_entry* seqs = nullptr;
  int n_seqs = 0;
  const int32_t* logit_rows = nullptr;  // token indices whose logits are wanted, ascending
  int n_logits = 0;
  float* logits = nullptr;  // [n_logits][vocab]
};

struct mlp_weights {  // SwiGLU MLP of width I: gate, up: [I][hidden]; down: [hidden][I]
  weight gate, up, down;
};

struct moe_weights {  // router: [n_expert][hidden]; experts: [n_expert], each of width moe_inter
  weight router;
  const float* score_bias = nullptr;  // [n_expert], sigmoid gating only: added to the scores for choosing, not weighting
  std::vector<mlp_weights> experts;
};

class model {
 public:
  // Loads cfg.arch's architecture (models/architectures.cpp): maps and binds the weights, rewrites them for the
  // options (int8, bf16 panels), sizes every buffer.
  static result load(const model_config& cfg, std::vector<tensor_desc>& tensors, const engine_options& opt, model** out);
  virtual ~model();

  // Runs the batch: every slot gains its tokens' state; logits for the rows asked.
  result forward(const batch& b);
  result slot_create(size_t capacity, dtype t, state_slot** out) const;

  const model_config cfg;
  const kernels* kern = nullptr;
  uint64_t forward_calls = 0, tokens_processed = 0;
  int max_tokens() const { return max_tokens_; }
  int threads() const { return pool_ ? pool_->size() : 1; }
  bool int8() const { return int8_; }
  bool bf16_activations() const { return bf16_act_; }
  bool packed_weights() const { return packed_; }  // bf16 panels packed at load (bf16_panel_rewrite)
  bool quant_panels() const { return xq_ != nullptr; }  // block-quant prefill through kernels::quant_matmul_panel
  const char* weight_pages() const { return weight_pages_; }  // weight_store::matmul_pages, after the load's rewrites

  // Expert statistics, each [n_layer][n_expert] (rows of dense layers stay 0): `total` tokens routed
  // since load / reset_expert_stats(); `step` tokens routed and `step_bytes` expert weight bytes read
  // in the last forward call. Readable while a forward runs (relaxed atomics; values may be partial).
  void read_expert_stats(uint64_t* total, uint64_t* step, uint64_t* step_bytes) const;
  void reset_expert_stats();

 protected:
  explicit model(const model_config& c) : cfg(c) {}

  // ---- What an architecture implements
  // Checks cfg beyond load()'s common checks (e.g. the layer kinds it runs) and binds every tensor through
  // weights_ (bind_output first: the rewrite order starts with lm_head). Errors name the file and the tensor.
  virtual result bind_weights() = 0;
  // The layers of one forward call: x_ [n_tokens][hidden] holds the token embeddings; leaves the last layer's
  // output there. pos_ / seq_of_ give each token's position and sequence; rope_cos_ / rope_sin_ its angles.
  virtual void forward_layers(const batch& b) = 0;
  // Floats of one linear-attention layer's recurrent state (default: cfg.linear.state_floats()).
  virtual size_t recurrent_state_floats() const { return cfg.linear.state_floats(); }
  // Buffers of the architecture's own blocks (alloc_floats), after the shared ones.
  virtual void alloc_arch_buffers() {}

  // ---- Building blocks; each runs over the thread pool and allocates nothing
  // embed_ = `embed` ([vocab][hidden], row lookups), final_norm_ = `norm` (its scale 1 + w when zero_centred_norm),
  // lm_head_ = `head` (or embed_ when tied).
  result bind_output(const std::string& embed, const std::string& norm, const std::string& head, bool zero_centred_norm = false);
  // w = prefix + {gate_proj, up_proj}.weight [width][hidden], down_proj.weight [hidden][width].
  result bind_mlp(const std::string& prefix, int width, mlp_weights& w);
  // y[t] = x[t] / sqrt(mean(x[t]²) + eps) · w for hidden-sized rows t < n_rows.
  void rmsnorm_rows(float* y, const float* x, const float* w, int n_rows);
  // y: [n][w.rows] = x: [n][w.cols] · wᵀ. With bf16 activations (unless f32_input) x may be rounded in place.
  void matmul(float* x, int n, const weight& w, float* y, bool f32_input = false);
  // Several matmuls of the same x in one pool run (fewer barriers): y_i = x · w_iᵀ, i < count ≤ 4.
  void matmul_many(float* x, int n, const weight* const* w, float* const* y, int count);
  // Per token: RMSNorm (q_norm, k_norm: [head_dim]) and RoPE (NEOX, first cfg.rot_dim() dims) on q_'s and k_'s heads, then K and V to
  // each token's slot at its position (attention.cpp).
  void qk_norm_rope_store(const batch& b, int layer, const float* q_norm, const float* k_norm);
  // att_ = causal softmax attention of q_ over `layer`'s KV in each token's slot, head by head (attention.cpp).
  void attention(const batch& b, int layer);
  void add_residual(int n);                              // x_[t] += tmp_[t], t < n
  void swiglu_mlp(const mlp_weights& w, int n);          // tmp_ = down(silu(xn_ · gateᵀ) · (xn_ · upᵀ)); width cfg.inter
  void moe_mlp(int layer, const moe_weights& w, int n);  // tmp_ = MoE(xn_) (moe.cpp)
  float* alloc_floats(size_t n);                         // zeroed, 64-byte aligned, freed with the model

  weight_store weights_;               // every tensor; bind through it in bind_weights()
  std::unique_ptr<thread_pool> pool_;  // the blocks' parallel runs (pool_->run(n, f) for an architecture's own)
  // Activations, [max_tokens][...]: x residual [hidden], xn normed [hidden], q [n_head·head_dim], k and v
  // [n_kv_head·head_dim], att attention out [n_head·head_dim], g/u MLP gate/up [inter], tmp block output [hidden];
  // rope_cos / rope_sin [head_dim / 2] per token (the first rot_dim / 2 used), inv_freq [head_dim / 2]; pos, seq_of: per token.
  float *x_ = nullptr, *xn_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *att_ = nullptr, *g_ = nullptr,
        *u_ = nullptr, *tmp_ = nullptr, *rope_cos_ = nullptr, *rope_sin_ = nullptr, *inv_freq_ = nullptr;
  int32_t *pos_ = nullptr, *seq_of_ = nullptr;

 private:
  result check_batch(const batch& b) const;
  void embed_tokens(const batch& b);  // x_ = embeddings, rope angles for each token's position
  void logits(const batch& b);        // b.logits = lm_head(final_norm(x_[row])) for the rows asked
  void alloc_buffers(int threads);
  size_t attention_scratch_floats() const;
  // bf16 activations: x [n][k] as bf16 in xb_ when the level has matmul_bf16 (k % 32 == 0), else x rounded
  // to bf16 values in place and nullptr. Without bf16 activations or a bf16 weight: nullptr, x untouched.
  const uint16_t* bf16_input(float* x, int n, int k, bool bf16_weight);
  // Block-quant prefill: x [n][k] as panel activation rows in xq_ for weights of type wt (its block size) when the
  // level's quant_matmul_panel takes wt and n >= quant_panel_min_tokens; else nullptr.
  const char* quant_input(const float* x, int n, int k, dtype wt);
  // One task's rows [r0, r1) of y = x · wᵀ for n tokens; xb, xq: bf16_input's and quant_input's results for this x (or nullptr).
  void matmul_rows(const float* x, const uint16_t* xb, const char* xq, int n, const weight& w, int r0, int r1, float* y, int ldy,
                   float* scratch) const;
  // MoE (moe.cpp): buffers, the per-forward counter reset, and out = MoE(x) for n <= moe_tokens_ tokens.
  void alloc_moe_buffers();
  void moe_begin_step();
  void moe_chunk(int layer, const moe_weights& w, float* x, int n, float* out);
  void route_sigmoid(float* p, const float* bias, int32_t* sel, float* w) const;  // one token's router row p: [n_expert]

  std::mutex forward_mu_;
  state_shape slot_shape_;  // of every slot of this model
  weight embed_, lm_head_;
  float* final_norm_ = nullptr;
  std::vector<float*> owned_;  // activation buffers, freed at destruction
  int max_tokens_ = 0;
  bool int8_ = false;
  bool bf16_act_ = false;
  bool packed_ = false;
  const char* weight_pages_ = "";
  uint16_t* xb_ = nullptr;  // bf16 copy of a matmul's x: [max(max_tokens, MoE rows)][max k], with bf16 activations
  char* xq_ = nullptr;      // panel activation rows of a matmul's x: [max(max_tokens, MoE rows)][panel_x_row_bytes(max k)]
  std::vector<float*> thread_scratch_;  // per thread: matmul scratch + attention tiles
  size_t matmul_scratch_ = 0;

  // MoE work buffers, sized at load for moe_tokens_ = min(max_tokens, 1024) tokens × n_expert_used routed
  // rows; longer calls run the sparse block in chunks of moe_tokens_ (see moe.cpp).
  int moe_tokens_ = 0;
  struct moe_block {  // one routed expert of a forward call: rows [row0, row0 + n) of the grouped buffers
    int32_t expert, row0, n;
  };
  float* router_logits_ = nullptr;  // [max_tokens][n_expert]
  float* route_w_ = nullptr;        // [max_tokens][k] routing weights, rank order
  int32_t* route_e_ = nullptr;      // [max_tokens][k] chosen experts, rank order
  int32_t* route_row_ = nullptr;    // [max_tokens][k] grouped row of (token, rank)
  int32_t* row_token_ = nullptr;    // [max_tokens * k] token of each grouped row
  int32_t* expert_fill_ = nullptr;  // [n_expert] per-expert counts, then fill cursors
  moe_block* blocks_ = nullptr;     // [n_expert] active experts, largest first
  float *xg_ = nullptr, *gg_ = nullptr, *ug_ = nullptr;  // [rows][hidden] (also down output), [rows][moe_inter] ×2
  std::unique_ptr<std::atomic<uint64_t>[]> exp_total_, exp_step_, exp_step_bytes_;
};

}  // namespace resident
