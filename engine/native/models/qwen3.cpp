// Qwen3 (Qwen3ForCausalLM) and Qwen3-MoE (Qwen3MoeForCausalLM). Every layer is softmax attention with per-head
// q/k RMSNorm and NEOX RoPE, then the dense SwiGLU MLP or, on the layers the config marks MoE, the mixture of
// experts:
//   x = embed(tokens)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  q, k = rope(rmsnorm_head(q)), rope(rmsnorm_head(k))
//               x += attention(q, k, v)·Woᵀ;  x += mlp_or_moe(rmsnorm(x))
//   logits = rmsnorm(x)·lm_headᵀ
#include "architectures.h"

namespace resident {
namespace {

struct qwen3_layer {
  float *attn_norm, *ffn_norm;  // [hidden]
  float *q_norm, *k_norm;       // [head_dim], shared by the heads
  weight q, k, v, o;            // q: [n_head·head_dim][hidden]; k, v: [n_kv_head·head_dim][hidden]; o: [hidden][n_head·head_dim]
  mlp_weights mlp;              // dense layers: width inter
  moe_weights moe;              // MoE layers: router [n_expert][hidden], experts of width moe_inter
};

class qwen3 final : public model {
 public:
  explicit qwen3(const model_config& c) : model(c) {}

 private:
  result bind_weights() override;
  void forward_layers(const batch& b) override;

  std::vector<qwen3_layer> layers_;
};

void qwen3::forward_layers(const batch& b) {
  const int n = b.n_tokens;
  for (int l = 0; l < cfg.n_layer; l++) {
    const qwen3_layer& L = layers_[size_t(l)];
    rmsnorm_rows(xn_, x_, L.attn_norm, n);
    const weight* qkv[3] = {&L.q, &L.k, &L.v};
    float* const qkv_out[3] = {q_, k_, v_};
    matmul_many(xn_, n, qkv, qkv_out, 3);
    qk_norm_rope_store(b, l, L.q_norm, L.k_norm);
    attention(b, l);
    matmul(att_, n, L.o, tmp_);
    add_residual(n);

    rmsnorm_rows(xn_, x_, L.ffn_norm, n);
    if (cfg.moe(l)) moe_mlp(l, L.moe, n);
    else swiglu_mlp(L.mlp, n);
    add_residual(n);
  }
}

result qwen3::bind_weights() {
  if (cfg.count(mixer_kind::linear_attention) > 0) return result::fail(status::unsupported, "Qwen3 has no linear-attention layers");
  if (result r = bind_output("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"); !r) return r;
  const int H = cfg.hidden, QD = cfg.n_head * cfg.head_dim, KD = cfg.n_kv_head * cfg.head_dim;
  layers_.resize(size_t(cfg.n_layer));  // sized before binding: the store keeps the weights' addresses
  for (int l = 0; l < cfg.n_layer; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    qwen3_layer& L = layers_[size_t(l)];
    result r;
    if (!(r = weights_.bind_norm(p + "input_layernorm.weight", H, &L.attn_norm)) ||
        !(r = weights_.bind_norm(p + "post_attention_layernorm.weight", H, &L.ffn_norm)) ||
        !(r = weights_.bind_norm(p + "self_attn.q_norm.weight", cfg.head_dim, &L.q_norm)) ||
        !(r = weights_.bind_norm(p + "self_attn.k_norm.weight", cfg.head_dim, &L.k_norm)) ||
        !(r = weights_.bind(p + "self_attn.q_proj.weight", QD, H, &L.q)) ||
        !(r = weights_.bind(p + "self_attn.k_proj.weight", KD, H, &L.k)) ||
        !(r = weights_.bind(p + "self_attn.v_proj.weight", KD, H, &L.v)) ||
        !(r = weights_.bind(p + "self_attn.o_proj.weight", H, QD, &L.o)))
      return r;
    if (!cfg.moe(l)) {
      if (!(r = bind_mlp(p + "mlp.", cfg.inter, L.mlp))) return r;
      continue;
    }
    if (!(r = weights_.bind(p + "mlp.gate.weight", cfg.n_expert, H, &L.moe.router, weight_use::kept))) return r;
    L.moe.experts.resize(size_t(cfg.n_expert));
    for (int e = 0; e < cfg.n_expert; e++)
      if (!(r = bind_mlp(p + "mlp.experts." + std::to_string(e) + ".", cfg.moe_inter, L.moe.experts[size_t(e)]))) return r;
  }
  return result::ok();
}

}  // namespace

model* make_qwen3(const model_config& cfg) { return new qwen3(cfg); }

}  // namespace resident
