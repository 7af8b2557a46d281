// MiniMax-M2 / M2.5 (MiniMaxM2ForCausalLM). Every layer is softmax attention then a sigmoid-routed mixture of
// experts (no dense layers, no shared expert):
//   x = embed(tokens)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ
//               q = rmsnorm(q) over all n_head·head_dim values at once (q_norm: [n_head·head_dim]); k likewise
//               (k_norm: [n_kv_head·head_dim]); then NEOX RoPE on the first rot_dim dims of each head
//               x += attention(q, k, v)·Woᵀ
//               h = rmsnorm(x);  s = σ(h·Wgᵀ);  chosen = top-k of s + e_score_correction_bias;
//               x += Σ_chosen (s_e / Σ_chosen s) · expert_e(h),  expert = w2(silu(w1·h) · w3·h)
//   logits = rmsnorm(x)·lm_headᵀ (untied)
#include <cmath>

#include "architectures.h"

namespace resident {
namespace {

struct minimax_m2_layer {
  float *attn_norm, *ffn_norm;  // [hidden]
  float *q_norm, *k_norm;       // [n_head·head_dim], [n_kv_head·head_dim]: one RMSNorm over all heads
  weight q, k, v, o;            // q: [n_head·head_dim][hidden]; k, v: [n_kv_head·head_dim][hidden]; o: [hidden][n_head·head_dim]
  moe_weights moe;              // router [n_expert][hidden] + score bias [n_expert]; experts of width moe_inter
};

class minimax_m2 final : public model {
 public:
  explicit minimax_m2(const model_config& c) : model(c) {}

 private:
  result bind_weights() override;
  void forward_layers(const batch& b) override;
  // Per token: q_ and k_ rows normed over all heads together, RoPE on each head, K and V to the token's slot.
  void qk_full_norm_rope_store(const batch& b, int layer, const float* q_norm, const float* k_norm);

  std::vector<minimax_m2_layer> layers_;
};

void minimax_m2::qk_full_norm_rope_store(const batch& b, int layer, const float* q_norm, const float* k_norm) {
  const int hd = cfg.head_dim, half = hd / 2, rh = cfg.rot_dim() / 2, QD = cfg.n_head * hd, KD = cfg.n_kv_head * hd;
  auto norm = [&](float* v, const float* w, int n) {
    const float s = 1.0f / std::sqrt(kern->sum_sq(v, n) / float(n) + cfg.eps);
    kern->scale_mul(v, v, w, s, n);
  };
  auto rope = [&](float* v, const float* cs, const float* sn) {  // NEOX pairs (i, i + rh) over the first rot_dim dims
    for (int i = 0; i < rh; i++) {
      const float a = v[i], c = v[i + rh];
      v[i] = a * cs[i] - c * sn[i];
      v[i + rh] = a * sn[i] + c * cs[i];
    }
  };
  auto task = [&](int t, int) {
    const float *cs = rope_cos_ + size_t(t) * half, *sn = rope_sin_ + size_t(t) * half;
    float* q = q_ + size_t(t) * QD;
    norm(q, q_norm, QD);
    for (int h = 0; h < cfg.n_head; h++) rope(q + size_t(h) * hd, cs, sn);
    float* k = k_ + size_t(t) * KD;
    norm(k, k_norm, KD);
    state_slot* slot = b.seqs[seq_of_[t]].slot;
    const size_t off = size_t(pos_[t]) * hd * dtype_size(slot->type);
    for (int h = 0; h < cfg.n_kv_head; h++) {
      float* kh = k + size_t(h) * hd;
      rope(kh, cs, sn);
      kern->from_f32(kh, slot->type, slot->region(layer, 0, h) + off, size_t(hd));
      kern->from_f32(v_ + size_t(t) * KD + size_t(h) * hd, slot->type, slot->region(layer, 1, h) + off, size_t(hd));
    }
  };
  pool_->run(b.n_tokens, task);
}

void minimax_m2::forward_layers(const batch& b) {
  const int n = b.n_tokens;
  for (int l = 0; l < cfg.n_layer; l++) {
    const minimax_m2_layer& L = layers_[size_t(l)];
    rmsnorm_rows(xn_, x_, L.attn_norm, n);
    const weight* qkv[3] = {&L.q, &L.k, &L.v};
    float* const qkv_out[3] = {q_, k_, v_};
    matmul_many(xn_, n, qkv, qkv_out, 3);
    qk_full_norm_rope_store(b, l, L.q_norm, L.k_norm);
    attention(b, l);
    matmul(att_, n, L.o, tmp_);
    add_residual(n);

    rmsnorm_rows(xn_, x_, L.ffn_norm, n);
    moe_mlp(l, L.moe, n);
    add_residual(n);
  }
}

result minimax_m2::bind_weights() {
  if (cfg.count(mixer_kind::linear_attention) > 0) return result::fail(status::unsupported, "MiniMax-M2 has no linear-attention layers");
  for (int l = 0; l < cfg.n_layer; l++)
    if (!cfg.moe(l)) return result::fail(status::unsupported, "MiniMax-M2 has a mixture of experts in every layer");
  if (cfg.gating != moe_gating::sigmoid) return result::fail(status::unsupported, "MiniMax-M2 routes with sigmoid gating");
  if (cfg.tied) return result::fail(status::unsupported, "MiniMax-M2 has an untied lm_head");
  if (result r = bind_output("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"); !r) return r;
  const int H = cfg.hidden, QD = cfg.n_head * cfg.head_dim, KD = cfg.n_kv_head * cfg.head_dim, MI = cfg.moe_inter;
  layers_.resize(size_t(cfg.n_layer));  // sized before binding: the store keeps the weights' addresses
  for (int l = 0; l < cfg.n_layer; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".", m = p + "block_sparse_moe.";
    minimax_m2_layer& L = layers_[size_t(l)];
    float* bias = nullptr;
    result r;
    if (!(r = weights_.bind_norm(p + "input_layernorm.weight", H, &L.attn_norm)) ||
        !(r = weights_.bind_norm(p + "post_attention_layernorm.weight", H, &L.ffn_norm)) ||
        !(r = weights_.bind_norm(p + "self_attn.q_norm.weight", QD, &L.q_norm)) ||
        !(r = weights_.bind_norm(p + "self_attn.k_norm.weight", KD, &L.k_norm)) ||
        !(r = weights_.bind(p + "self_attn.q_proj.weight", QD, H, &L.q)) ||
        !(r = weights_.bind(p + "self_attn.k_proj.weight", KD, H, &L.k)) ||
        !(r = weights_.bind(p + "self_attn.v_proj.weight", KD, H, &L.v)) ||
        !(r = weights_.bind(p + "self_attn.o_proj.weight", H, QD, &L.o)) ||
        !(r = weights_.bind(m + "gate.weight", cfg.n_expert, H, &L.moe.router, weight_use::kept)) ||
        !(r = weights_.bind_norm(m + "e_score_correction_bias", cfg.n_expert, &bias)))
      return r;
    L.moe.score_bias = bias;
    L.moe.experts.resize(size_t(cfg.n_expert));
    for (int e = 0; e < cfg.n_expert; e++) {
      const std::string x = m + "experts." + std::to_string(e) + ".";
      mlp_weights& w = L.moe.experts[size_t(e)];
      if (!(r = weights_.bind(x + "w1.weight", MI, H, &w.gate)) || !(r = weights_.bind(x + "w3.weight", MI, H, &w.up)) ||
          !(r = weights_.bind(x + "w2.weight", H, MI, &w.down)))
        return r;
    }
  }
  return result::ok();
}

}  // namespace

model* make_minimax_m2(const model_config& cfg) { return new minimax_m2(cfg); }

}  // namespace resident
