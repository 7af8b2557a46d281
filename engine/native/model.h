// A loaded Qwen3 model: mmapped weights, f32 copies of the norm vectors, the thread pool and every
// activation buffer, sized once at load for max_tokens tokens per forward call.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "kv-slot.h"
#include "thread-pool.h"

namespace resident {

struct model_config {
  int vocab = 0, hidden = 0, n_layer = 0, n_head = 0, n_kv_head = 0, head_dim = 0, inter = 0;
  float eps = 1e-6f, rope_theta = 1e6f;
  bool tied = true;
  // Qwen3-MoE (n_expert > 0): layer l uses the sparse block when moe_layer[l] != 0, else the dense
  // MLP of width `inter`. Router: softmax over n_expert, top n_expert_used, renormalized if norm_topk.
  int n_expert = 0, n_expert_used = 0, moe_inter = 0;
  bool norm_topk = false;
  std::vector<uint8_t> moe_layer;  // [n_layer], or empty for a dense model
};

struct engine_options {
  int threads = 1;
  int max_tokens = 512;
  bool portable = false;  // force the portable kernels
  std::string kernels = "auto";  // highest kernel level allowed: auto | avx512 | avx2 | portable
  bool int8 = false;             // quantize matmul weights to q8 at load (quantize.cpp)
  bool bf16_activations = false;  // round activations to bf16 before every bf16-weight matmul (ops.cpp)
};

// Token rows per matmul kernel call: f32 activations in blocks of 64 that stay in L2; the bf16 dot path
// packs each weight panel once per call, so it takes every row at once (bf16 x is half the size).
inline int matmul_token_block(bool bf16_dot) { return bf16_dot ? 1 << 30 : 64; }

struct tensor_desc {
  std::string name, file;
  size_t offset = 0, nbytes = 0;
  dtype type = dtype::f32;
  std::vector<int64_t> shape;
};

struct weight {  // [rows][cols], row-major, in `type`, pointing into an mmapped file or the weight arena
  const void* data = nullptr;
  dtype type = dtype::f32;
  int rows = 0, cols = 0;
  bool packed = false;  // bf16 panels (kernels::pack_bf16), not rows: only for bf16 activations' dot kernels
};

// A load-time rewrite of matmul weights into the weight arena (weight-arena.cpp); bytes(w) == 0 keeps w.
struct weight_rewrite {
  const char* what = "";
  int rows_per_task = 64;
  size_t max_bytes = SIZE_MAX;  // a larger arena is not made (weights unchanged, done = false)
  std::function<size_t(const weight&)> bytes;
  std::function<void(const weight&, int r0, int r1, void* dst)> fill;  // rows [r0, r1) of w's copy at dst, r0 % rows_per_task == 0
  std::function<void(weight&, void* dst)> retype;                      // w now describes its copy at dst
};

struct expert_weights {  // gate, up: [moe_inter][hidden]; down: [hidden][moe_inter]
  weight gate, up, down;
};

struct layer_weights {
  float *attn_norm, *ffn_norm, *q_norm, *k_norm;  // f32 copies: [hidden], [hidden], [head_dim], [head_dim]
  weight q, k, v, o, gate, up, down;               // gate/up/down: dense MLP layers only
  bool moe = false;
  weight router;                        // [n_expert][hidden] (MoE layers)
  std::vector<expert_weights> experts;  // [n_expert] (MoE layers)
};

// One sequence of a forward call: tokens [offset, offset + count) of the batch go to positions
// [slot->length, slot->length + count) of `slot`.
struct seq_entry {
  kv_slot* slot;
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

struct mapped_file {
  std::string path;
  void* base = nullptr;
  size_t size = 0;      // bytes of the file
  size_t map_size = 0;  // bytes mapped at base (the file's mapping, an anonymous huge-page copy, or the weight arena)
  bool anonymous = false;  // not backed by the file (huge-page copy, weight arena)
};

class model {
 public:
  static result load(const model_config& cfg, const std::vector<tensor_desc>& tensors, const engine_options& opt,
                     model** out);
  ~model();

  result forward(const batch& b);
  result slot_create(size_t capacity, dtype t, kv_slot** out) const;

  const model_config cfg;
  const kernels* kern = nullptr;
  uint64_t forward_calls = 0, tokens_processed = 0;
  int max_tokens() const { return max_tokens_; }
  int threads() const { return pool_ ? pool_->size() : 1; }
  bool int8() const { return int8_; }
  bool bf16_activations() const { return bf16_act_; }
  bool packed_weights() const { return packed_; }  // bf16 panels packed at load (pack_bf16_weights)

  // Expert statistics, each [n_layer][n_expert] (rows of dense layers stay 0): `total` tokens routed
  // since load / reset_expert_stats(); `step` tokens routed and `step_bytes` expert weight bytes read
  // in the last forward call. Readable while a forward runs (relaxed atomics; values may be partial).
  void read_expert_stats(uint64_t* total, uint64_t* step, uint64_t* step_bytes) const;
  void reset_expert_stats();

 private:
  explicit model(const model_config& c) : cfg(c) {}
  result map_weights(const std::vector<tensor_desc>& tensors);
  result bind_weight(const std::vector<tensor_desc>& tensors, const std::string& name, int rows, int cols, weight* w);
  const tensor_desc* find_tensor(const std::string& name) const;
  result bind_norm(const std::vector<tensor_desc>& tensors, const std::string& name, int n, float** out);
  void alloc_buffers(int threads);
  result rewrite_weights(const weight_rewrite& r, bool* done = nullptr);
  result quantize_weights();
  result pack_bf16_weights();
  size_t attention_scratch_floats() const;

  void rmsnorm_rows(float* y, const float* x, const float* w, int n_rows);
  // y: [n][w.rows] = x: [n][w.cols] · wᵀ. With bf16 activations (unless f32_input) x may be rounded in place.
  void matmul(float* x, int n, const weight& w, float* y, bool f32_input = false);
  // Several matmuls of the same x in one pool run (fewer barriers): y_i = x · w_iᵀ, i < count ≤ 3.
  void matmul_many(float* x, int n, const weight* const* w, float* const* y, int count);
  // bf16 activations: x [n][k] as bf16 in xb_ when the level has matmul_bf16 (k % 32 == 0), else x rounded
  // to bf16 values in place and nullptr. Without bf16 activations or a bf16 weight: nullptr, x untouched.
  const uint16_t* bf16_input(float* x, int n, int k, bool bf16_weight);
  // One task's rows [r0, r1) of y = x · wᵀ for n tokens; xb: bf16_input's result for this x (or nullptr).
  void matmul_rows(const float* x, const uint16_t* xb, int n, const weight& w, int r0, int r1, float* y, int ldy, float* scratch) const;
  void qk_norm_rope_store(const batch& b, int layer);
  void attention(const batch& b, int layer);
  void logits(const batch& b);
  // MoE (moe.cpp): buffers, the per-forward counter reset, and tmp_ = MoE(xn_) for `n` tokens of `layer`.
  void alloc_moe_buffers();
  result bind_moe_layer(const std::vector<tensor_desc>& tensors, int layer);
  void moe_begin_step();
  void moe_mlp(int layer, int n);
  void moe_chunk(int layer, float* x, int n, float* out);  // out[n][hidden] = MoE(x[n][hidden]), n <= moe_tokens_

  std::mutex forward_mu_;
  std::vector<mapped_file> files_;
  std::unordered_map<std::string, const tensor_desc*> tensor_index_;  // by name; during load only
  std::vector<float*> owned_;  // f32 copies of norms, freed at destruction
  weight embed_, lm_head_;
  float* final_norm_ = nullptr;
  std::vector<layer_weights> layers_;
  std::unique_ptr<thread_pool> pool_;
  int max_tokens_ = 0;
  bool int8_ = false;
  bool bf16_act_ = false;
  bool packed_ = false;
  uint16_t* xb_ = nullptr;  // bf16 copy of a matmul's x: [max(max_tokens, MoE rows)][max k], with bf16 activations

  // Activations, [max_tokens][...]: x residual, xn normed, q/k/v projections, att attention out,
  // g/u MLP gate/up, tmp projection out; rope: [max_tokens][head_dim / 2] cos and sin; pos: positions.
  float *x_, *xn_, *q_, *k_, *v_, *att_, *g_, *u_, *tmp_, *rope_cos_, *rope_sin_, *inv_freq_;
  int32_t *pos_, *seq_of_;
  std::vector<float*> thread_scratch_;  // per thread: matmul scratch + attention tiles
  size_t matmul_scratch_ = 0;

  // MoE work buffers, sized at load for moe_tokens_ = min(max_tokens, 1024) tokens × n_expert_used routed
  // rows; longer calls run the sparse block in chunks of moe_tokens_ (see moe.cpp).
  int moe_tokens_ = 0;
  struct moe_block {  // one routed expert of a forward call: rows [row0, row0 + n) of the grouped buffers
    int32_t expert, row0, n;
  };
  float *router_logits_ = nullptr;           // [max_tokens][n_expert]
  float *route_w_ = nullptr;                 // [max_tokens][k] routing weights, rank order
  int32_t *route_e_ = nullptr;               // [max_tokens][k] chosen experts, rank order
  int32_t *route_row_ = nullptr;             // [max_tokens][k] grouped row of (token, rank)
  int32_t *row_token_ = nullptr;             // [max_tokens * k] token of each grouped row
  int32_t *expert_fill_ = nullptr;           // [n_expert] per-expert counts, then fill cursors
  moe_block* blocks_ = nullptr;              // [n_expert] active experts, largest first
  float *xg_ = nullptr, *gg_ = nullptr, *ug_ = nullptr;  // [rows][hidden] (also down output), [rows][moe_inter] ×2
  std::unique_ptr<std::atomic<uint64_t>[]> exp_total_, exp_step_, exp_step_bytes_;
};

}  // namespace resident
