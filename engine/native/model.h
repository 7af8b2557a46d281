// A loaded Qwen3 model: mmapped weights, f32 copies of the norm vectors, the thread pool and every
// activation buffer, sized once at load for max_tokens tokens per forward call.
#pragma once
#include <memory>
#include <string>
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
};

struct engine_options {
  int threads = 1;
  int max_tokens = 512;
  bool portable = false;  // force the portable kernels
};

struct tensor_desc {
  std::string name, file;
  size_t offset = 0, nbytes = 0;
  dtype type = dtype::f32;
  std::vector<int64_t> shape;
};

struct weight {  // [rows][cols], row-major, in `type`, pointing into an mmapped file
  const void* data = nullptr;
  dtype type = dtype::f32;
  int rows = 0, cols = 0;
};

struct layer_weights {
  float *attn_norm, *ffn_norm, *q_norm, *k_norm;  // f32 copies: [hidden], [hidden], [head_dim], [head_dim]
  weight q, k, v, o, gate, up, down;
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
  size_t size = 0;
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

 private:
  explicit model(const model_config& c) : cfg(c) {}
  result map_weights(const std::vector<tensor_desc>& tensors);
  result bind_weight(const std::vector<tensor_desc>& tensors, const std::string& name, int rows, int cols, weight* w);
  result bind_norm(const std::vector<tensor_desc>& tensors, const std::string& name, int n, float** out);
  void alloc_buffers(int threads);
  size_t attention_scratch_floats() const;

  void rmsnorm_rows(float* y, const float* x, const float* w, int n_rows);
  void matmul(const float* x, int n, const weight& w, float* y);
  void qk_norm_rope_store(const batch& b, int layer);
  void attention(const batch& b, int layer);
  void logits(const batch& b);

  std::vector<mapped_file> files_;
  std::vector<float*> owned_;  // f32 copies of norms, freed at destruction
  weight embed_, lm_head_;
  float* final_norm_ = nullptr;
  std::vector<layer_weights> layers_;
  std::unique_ptr<thread_pool> pool_;
  int max_tokens_ = 0;

  // Activations, [max_tokens][...]: x residual, xn normed, q/k/v projections, att attention out,
  // g/u MLP gate/up, tmp projection out; rope: [max_tokens][head_dim / 2] cos and sin; pos: positions.
  float *x_, *xn_, *q_, *k_, *v_, *att_, *g_, *u_, *tmp_, *rope_cos_, *rope_sin_, *inv_freq_;
  int32_t *pos_, *seq_of_;
  std::vector<float*> thread_scratch_;  // per thread: matmul scratch + attention tiles
  size_t matmul_scratch_ = 0;
};

}  // namespace resident
