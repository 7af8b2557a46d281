// Model loading for every architecture: check the config, create the architecture's model, map and bind the
// weights, rewrite them for the options, allocate every buffer once; and the state slots of the model's shape.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "model.h"
#include "models/architectures.h"

namespace resident {

static result check_config(const model_config& c) {
  if (c.vocab <= 0 || c.hidden <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_kv_head <= 0 || c.head_dim <= 0 ||
      c.inter <= 0 || c.n_head % c.n_kv_head != 0 || c.head_dim % 2 != 0 || c.rope_dim < 0 || c.rope_dim % 2 != 0 ||
      c.rope_dim > c.head_dim)
    return result::fail(status::unsupported, "invalid model dimensions (heads must be a multiple of kv heads, head_dim even, rope_dim even and <= head_dim)");
  if (c.layers.size() != size_t(c.n_layer)) return result::fail(status::unsupported, "the config names the kind of " +
                                                                 std::to_string(c.layers.size()) + " layers, not of " + std::to_string(c.n_layer));
  if (c.any_moe() && (c.n_expert < 1 || c.n_expert_used < 1 || c.n_expert_used > c.n_expert || c.moe_inter <= 0)) {
    return result::fail(status::unsupported, c.n_expert < 1 ? "MoE layers without experts"
                                                            : "invalid MoE dimensions (need 1 <= experts per token <= experts, moe_inter > 0, one flag per layer)");
  }
  if (c.count(mixer_kind::linear_attention) > 0 && c.linear.state_floats() == 0)
    return result::fail(status::unsupported, "linear-attention layers without linear-attention dimensions");
  return result::ok();
}

// Every slot of a model: KV regions for its attention layers, a recurrent blob for each linear-attention layer.
static state_shape slot_shape_of(const model_config& c, size_t recurrent_floats) {
  state_shape s;
  s.n_kv_head = c.n_kv_head;
  s.head_dim = c.head_dim;
  for (const layer_kind& k : c.layers) {
    const bool kv = k.mixer == mixer_kind::attention;
    s.kv_layer.push_back(kv ? s.n_kv_layer++ : -1);
    s.recurrent_layer.push_back(kv ? -1 : s.n_recurrent_layer++);
  }
  s.recurrent_floats = s.n_recurrent_layer ? recurrent_floats : 0;
  return s;
}

result model::load(const model_config& c, std::vector<tensor_desc>& tensors, const engine_options& opt, model** out) {
  const architecture* arch = find_architecture(c.arch);
  if (!arch) return result::fail(status::unsupported, "the native engine has no architecture '" + c.arch + "' (" + architecture_names() + ")");
  if (result r = check_config(c); !r) return r;
  if (opt.max_tokens < 1 || opt.threads < 1) return result::fail(status::argument_error, "threads and max_tokens must be >= 1");
  std::unique_ptr<model> m(arch->make(c));
  m->kern = select_kernels(opt.portable ? "portable" : opt.kernels.c_str());  // avx512 > avx2 > portable
  if (!m->kern) return result::fail(status::argument_error, "unknown kernels level '" + opt.kernels + "' (auto, avx512, avx2, portable)");
  if (result r = m->weights_.map(tensors); !r) return r;
  if (result r = m->bind_weights(); !r) return r;
  m->weights_.end_binding();
  m->max_tokens_ = opt.max_tokens;
  m->pool_ = std::make_unique<thread_pool>(opt.threads);
  if (opt.int8) {
    if (result r = m->weights_.rewrite(int8_rewrite(), *m->pool_); !r) return r;
    m->int8_ = true;
  }
  m->bf16_act_ = opt.bf16_activations;
  const char* pack_env = getenv("RESIDENT_BF16_PACK");  // 0: bf16 panels packed per call, not at load
  if (m->bf16_act_ && m->kern->pack_bf16 && !(pack_env && *pack_env == '0'))
    m->weights_.rewrite(bf16_panel_rewrite(*m->kern), *m->pool_, &m->packed_);  // without an arena (failure ignored) the weights stay mapped
  const char* copy_env = getenv("RESIDENT_WEIGHT_COPY");  // 0: weights in a file's 4 KiB pages stay there
  if (!(copy_env && *copy_env == '0')) m->weights_.rewrite(huge_page_rewrite(m->weights_), *m->pool_);
  m->weight_pages_ = m->weights_.matmul_pages();
  m->alloc_buffers(opt.threads);
  m->slot_shape_ = slot_shape_of(c, m->recurrent_state_floats());
  *out = m.release();
  return result::ok();
}

result model::bind_output(const std::string& embed, const std::string& norm, const std::string& head, bool zero_centred_norm) {
  if (result r = weights_.bind(embed, cfg.vocab, cfg.hidden, &embed_, weight_use::kept); !r) return r;
  if (cfg.tied) {
    lm_head_ = embed_;
    weights_.add_matmul(&lm_head_);
  } else if (result r = weights_.bind(head, cfg.vocab, cfg.hidden, &lm_head_); !r) {
    return r;
  }
  if (result r = weights_.bind_norm(norm, cfg.hidden, &final_norm_); !r) return r;
  if (zero_centred_norm)
    for (int i = 0; i < cfg.hidden; i++) final_norm_[i] += 1.0f;
  return result::ok();
}

result model::bind_mlp(const std::string& prefix, int width, mlp_weights& w) {
  const int H = cfg.hidden;
  result r;
  if (!(r = weights_.bind(prefix + "gate_proj.weight", width, H, &w.gate)) ||
      !(r = weights_.bind(prefix + "up_proj.weight", width, H, &w.up)) ||
      !(r = weights_.bind(prefix + "down_proj.weight", H, width, &w.down)))
    return r;
  return result::ok();
}

float* model::alloc_floats(size_t n) {
  float* p = static_cast<float*>(aligned_alloc_zero(n * 4));
  owned_.push_back(p);
  return p;
}

void model::alloc_buffers(int threads) {
  const size_t T = size_t(max_tokens_), H = size_t(cfg.hidden), QD = size_t(cfg.n_head) * cfg.head_dim,
               KD = size_t(cfg.n_kv_head) * cfg.head_dim, I = size_t(cfg.inter), HD2 = size_t(cfg.head_dim) / 2;
  auto f = [&](size_t n) { return alloc_floats(n); };
  x_ = f(T * H); xn_ = f(T * H); tmp_ = f(T * H);
  q_ = f(T * QD); att_ = f(T * QD); k_ = f(T * KD); v_ = f(T * KD);
  g_ = f(T * I); u_ = f(T * I);
  rope_cos_ = f(T * HD2); rope_sin_ = f(T * HD2); inv_freq_ = f(HD2);
  pos_ = reinterpret_cast<int32_t*>(f(T));
  seq_of_ = reinterpret_cast<int32_t*>(f(T));
  for (size_t i = 0; i < HD2; i++)
    inv_freq_[i] = float(1.0 / std::pow(double(cfg.rope_theta), double(2 * i) / double(cfg.rot_dim())));
  const int kmax = std::max({cfg.hidden, cfg.inter, cfg.n_head * cfg.head_dim, cfg.moe_inter, cfg.linear.n_v_head * cfg.linear.head_v_dim});
  matmul_scratch_ = matmul_scratch_floats(kmax);
  for (int t = 0; t < threads; t++) thread_scratch_.push_back(f(matmul_scratch_ + attention_scratch_floats()));
  if (cfg.any_moe()) alloc_moe_buffers();
  if (bf16_act_ && kern->matmul_bf16) {
    const size_t rows = std::max(T, size_t(moe_tokens_) * size_t(std::max(cfg.n_expert_used, 1)));
    xb_ = reinterpret_cast<uint16_t*>(f((rows * size_t(kmax) + 1) / 2));
  }
  const char* panel_env = getenv("RESIDENT_QUANT_PANEL");  // 0: block-quant prefill through the tile kernels
  if (weights_.any_type([&](dtype t) { return quant_panel_takes(*kern, t); }) && !(panel_env && *panel_env == '0')) {
    const size_t rows = std::max(T, size_t(moe_tokens_) * size_t(std::max(cfg.n_expert_used, 1)));
    xq_ = reinterpret_cast<char*>(f(rows * panel_x_row_bytes(kmax) / 4));
  }
  alloc_arch_buffers();
}

model::~model() {
  pool_.reset();
  for (float* p : owned_) aligned_free(p);
}

result model::slot_create(size_t capacity, dtype t, state_slot** out) const { return state_slot::create(slot_shape_, capacity, t, out); }

}  // namespace resident
