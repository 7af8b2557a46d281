// Qwen3.5 / 3.6 hybrids (Qwen3_5ForConditionalGeneration's text model, dense and MoE): Gated DeltaNet linear
// attention on most layers, gated softmax attention on the rest (config layer_types), each followed by the dense
// SwiGLU MLP or the mixture of experts plus a gated shared expert. Every RMSNorm but the DeltaNet output norm is
// zero-centred: its scale is 1 + w (added once at bind).
//   x = embed(tokens)
//   per layer:  h = rmsnorm(x)
//     attention: q|gate = h·Wqᵀ (per head: head_dim query rows, then head_dim gate rows); k, v = h·Wkᵀ, h·Wvᵀ
//                q, k = rope(rmsnorm_head(q)), rope(rmsnorm_head(k))   (NEOX over the first rope_dim dims)
//                x += (attention(q, k, v) ⊙ σ(gate))·Woᵀ
//     linear:    qkv, z, a, b = h·W_qkvᵀ, h·W_zᵀ, h·W_aᵀ, h·W_bᵀ;  x += delta_net(qkv, z, a, b; slot state)·W_outᵀ
//     h = rmsnorm(x);  x += mlp(h)   or   x += moe(h) + σ(h·w_sg)·shared_mlp(h)
//   logits = rmsnorm(x)·lm_headᵀ
#include <cmath>

#include "../delta-net.h"
#include "architectures.h"

namespace resident {
namespace {

struct qwen35_layer {
  float *attn_norm, *ffn_norm;  // [hidden], 1 + w
  // attention layers
  float *q_norm, *k_norm;  // [head_dim], 1 + w, shared by the heads
  weight q, k, v, o;       // q: [n_head·2·head_dim][hidden]; k, v: [n_kv_head·head_dim][hidden]; o: [hidden][n_head·head_dim]
  // linear-attention layers
  weight qkv, z, a, b, out;  // qkv: [conv_channels][hidden]; z: [n_v·d_v][hidden]; a, b: [n_v][hidden]; out: [hidden][n_v·d_v]
  delta_net_layer dn;
  // feed-forward
  mlp_weights mlp;     // dense layers: width inter; MoE layers: the shared expert, width inter
  moe_weights moe;     // MoE layers: router [n_expert][hidden], experts of width moe_inter
  weight shared_gate;  // MoE layers: [1][hidden]
};

void plus_one(float* w, int n) {
  for (int i = 0; i < n; i++) w[i] += 1.0f;
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

class qwen35 final : public model {
 public:
  explicit qwen35(const model_config& c) : model(c) {
    dn_shape_ = {c.linear.n_k_head, c.linear.n_v_head, c.linear.head_k_dim, c.linear.head_v_dim, c.linear.conv_kernel, c.eps};
  }

 private:
  result bind_weights() override;
  void forward_layers(const batch& b) override;
  void alloc_arch_buffers() override;
  result bind_attention(const std::string& p, qwen35_layer& L);
  result bind_linear(const std::string& p, qwen35_layer& L);
  result bind_ffn(const std::string& p, int layer, qwen35_layer& L);
  void gated_attention(const batch& b, int layer, const qwen35_layer& L);  // tmp_ = attention block of xn_
  void linear_attention(const batch& b, int layer, const qwen35_layer& L);  // tmp_ = DeltaNet block of xn_
  void moe_ffn(int layer, const qwen35_layer& L, int n);                     // x_ += moe(xn_) + σ(xn_·w_sg)·shared(xn_)

  std::vector<qwen35_layer> layers_;
  delta_net_shape dn_shape_;
  // [max_tokens][...]: qg q|gate rows [2·n_head·head_dim]; lin_qkv [conv_channels]; lin_z, lin_out [n_v·d_v];
  // lin_a, lin_b [n_v]; sg the shared-expert gate logit [1]
  float *qg_ = nullptr, *lin_qkv_ = nullptr, *lin_z_ = nullptr, *lin_a_ = nullptr, *lin_b_ = nullptr, *lin_out_ = nullptr,
        *sg_ = nullptr;
  std::vector<float*> dn_scratch_;      // per pool thread: delta_net_scratch_floats
  std::vector<delta_net_seq> dn_seqs_;  // [max_tokens]: a forward call's sequences
};

void qwen35::forward_layers(const batch& b) {
  const int n = b.n_tokens;
  for (int l = 0; l < cfg.n_layer; l++) {
    const qwen35_layer& L = layers_[size_t(l)];
    rmsnorm_rows(xn_, x_, L.attn_norm, n);
    if (cfg.layers[size_t(l)].mixer == mixer_kind::linear_attention) linear_attention(b, l, L);
    else gated_attention(b, l, L);
    add_residual(n);

    rmsnorm_rows(xn_, x_, L.ffn_norm, n);
    if (cfg.moe(l)) {
      moe_ffn(l, L, n);
    } else {
      swiglu_mlp(L.mlp, n);
      add_residual(n);
    }
  }
}

void qwen35::gated_attention(const batch& b, int layer, const qwen35_layer& L) {
  const int n = b.n_tokens, hd = cfg.head_dim, QD = cfg.n_head * hd;
  const weight* qkv[3] = {&L.q, &L.k, &L.v};
  float* const qkv_out[3] = {qg_, k_, v_};
  matmul_many(xn_, n, qkv, qkv_out, 3);
  pool_->run(n, [&](int t, int) {  // q_[t][h] = qg_[t][h][query half]
    for (int h = 0; h < cfg.n_head; h++) {
      const float* src = qg_ + size_t(t) * 2 * QD + size_t(h) * 2 * hd;
      std::copy(src, src + hd, q_ + size_t(t) * QD + size_t(h) * hd);
    }
  });
  qk_norm_rope_store(b, layer, L.q_norm, L.k_norm);
  attention(b, layer);
  pool_->run(n, [&](int t, int) {  // att_[t][h] ⊙= σ(qg_[t][h][gate half])
    for (int h = 0; h < cfg.n_head; h++) {
      const float* gate = qg_ + size_t(t) * 2 * QD + size_t(h) * 2 * hd + hd;
      float* o = att_ + size_t(t) * QD + size_t(h) * hd;
      for (int i = 0; i < hd; i++) o[i] *= sigmoid(gate[i]);
    }
  });
  matmul(att_, n, L.o, tmp_);
}

void qwen35::linear_attention(const batch& b, int layer, const qwen35_layer& L) {
  const int n = b.n_tokens, C = dn_shape_.conv_channels(), VD = dn_shape_.value_dim(), NV = dn_shape_.n_v_heads;
  const weight* in[4] = {&L.qkv, &L.z, &L.a, &L.b};
  float* const in_out[4] = {lin_qkv_, lin_z_, lin_a_, lin_b_};
  matmul_many(xn_, n, in, in_out, 4);
  const size_t conv_floats = delta_net_conv_state_floats(dn_shape_);
  for (int s = 0; s < b.n_seqs; s++) {
    float* blob = b.seqs[s].slot->recurrent(layer);  // [conv state][delta state], prepared by forward()
    dn_seqs_[size_t(s)] = {b.seqs[s].offset, b.seqs[s].count, blob, blob + conv_floats};
  }
  delta_net_io io;
  io.qkv = lin_qkv_, io.z = lin_z_, io.a = lin_a_, io.b = lin_b_, io.out = lin_out_;
  io.ld_qkv = C, io.ld_z = VD, io.ld_a = NV, io.ld_b = NV, io.ld_out = VD;
  delta_net_forward(*pool_, *kern, dn_shape_, L.dn, io, dn_seqs_.data(), b.n_seqs, dn_scratch_.data());
  matmul(lin_out_, n, L.out, tmp_);
}

void qwen35::moe_ffn(int layer, const qwen35_layer& L, int n) {
  const int H = cfg.hidden;
  matmul(xn_, n, L.shared_gate, sg_, true);  // before the blocks below may round xn_ to bf16
  moe_mlp(layer, L.moe, n);
  add_residual(n);
  swiglu_mlp(L.mlp, n);
  pool_->run(n, [&](int t, int) { kern->axpy(x_ + size_t(t) * H, sigmoid(sg_[t]), tmp_ + size_t(t) * H, H); });
}

void qwen35::alloc_arch_buffers() {
  const size_t T = size_t(max_tokens());
  qg_ = alloc_floats(T * 2 * size_t(cfg.n_head) * size_t(cfg.head_dim));
  sg_ = alloc_floats(T);
  if (cfg.count(mixer_kind::linear_attention) == 0) return;
  const size_t VD = size_t(dn_shape_.value_dim()), NV = size_t(dn_shape_.n_v_heads);
  lin_qkv_ = alloc_floats(T * size_t(dn_shape_.conv_channels()));
  lin_z_ = alloc_floats(T * VD);
  lin_out_ = alloc_floats(T * VD);
  lin_a_ = alloc_floats(T * NV);
  lin_b_ = alloc_floats(T * NV);
  const size_t scratch = delta_net_scratch_floats(dn_shape_, delta_net_mode::automatic);
  for (int t = 0; t < threads(); t++) dn_scratch_.push_back(alloc_floats(scratch));
  dn_seqs_.resize(T);
}

result qwen35::bind_attention(const std::string& p, qwen35_layer& L) {
  const int H = cfg.hidden, D = cfg.head_dim, QD = cfg.n_head * D, KD = cfg.n_kv_head * D;
  const std::string a = p + "self_attn.";
  result r;
  if (!(r = weights_.bind_norm(a + "q_norm.weight", D, &L.q_norm)) || !(r = weights_.bind_norm(a + "k_norm.weight", D, &L.k_norm)) ||
      !(r = weights_.bind(a + "q_proj.weight", 2 * QD, H, &L.q)) || !(r = weights_.bind(a + "k_proj.weight", KD, H, &L.k)) ||
      !(r = weights_.bind(a + "v_proj.weight", KD, H, &L.v)) || !(r = weights_.bind(a + "o_proj.weight", H, QD, &L.o)))
    return r;
  plus_one(L.q_norm, D);
  plus_one(L.k_norm, D);
  return result::ok();
}

result qwen35::bind_linear(const std::string& p, qwen35_layer& L) {
  const int H = cfg.hidden, C = dn_shape_.conv_channels(), VD = dn_shape_.value_dim(), NV = dn_shape_.n_v_heads;
  const int K = dn_shape_.conv_kernel;
  const std::string a = p + "linear_attn.";
  float *conv = nullptr, *a_log = nullptr, *dt_bias = nullptr, *norm = nullptr;
  result r;
  if (!(r = weights_.bind(a + "in_proj_qkv.weight", C, H, &L.qkv)) || !(r = weights_.bind(a + "in_proj_z.weight", VD, H, &L.z)) ||
      !(r = weights_.bind(a + "in_proj_a.weight", NV, H, &L.a)) || !(r = weights_.bind(a + "in_proj_b.weight", NV, H, &L.b)) ||
      !(r = weights_.bind(a + "out_proj.weight", H, VD, &L.out)) ||
      !(r = weights_.bind_f32(a + "conv1d.weight", {C, 1, K}, &conv)) || !(r = weights_.bind_norm(a + "A_log", NV, &a_log)) ||
      !(r = weights_.bind_norm(a + "dt_bias", NV, &dt_bias)) || !(r = weights_.bind_norm(a + "norm.weight", dn_shape_.d_v, &norm)))
    return r;
  float* packed = alloc_floats(size_t(C) * size_t(K));
  delta_net_pack_conv(conv, C, K, packed);
  L.dn = {packed, a_log, dt_bias, norm};  // norm.weight is a plain scale (not zero-centred)
  return result::ok();
}

result qwen35::bind_ffn(const std::string& p, int layer, qwen35_layer& L) {
  const int H = cfg.hidden, E = cfg.n_expert, MI = cfg.moe_inter;
  if (!cfg.moe(layer)) return bind_mlp(p + "mlp.", cfg.inter, L.mlp);
  const std::string gu = p + "mlp.experts.gate_up_proj", down = p + "mlp.experts.down_proj";
  result r;
  if (!(r = weights_.bind(p + "mlp.gate.weight", E, H, &L.moe.router, weight_use::kept)) ||
      !(r = weights_.bind(p + "mlp.shared_expert_gate.weight", 1, H, &L.shared_gate, weight_use::kept)) ||
      !(r = bind_mlp(p + "mlp.shared_expert.", cfg.inter, L.mlp)))
    return r;
  L.moe.experts.resize(size_t(E));  // sized before binding: the store keeps the weights' addresses
  // gate_up_proj [E][2·MI][H] (gate rows, then up rows), or — from a GGUF — gate_proj and up_proj [E][MI][H] each
  const bool fused = !weights_.has(p + "mlp.experts.gate_proj");
  const std::string g = p + "mlp.experts.gate_proj", u = p + "mlp.experts.up_proj";
  for (int e = 0; e < E; e++) {
    mlp_weights& w = L.moe.experts[size_t(e)];
    if (!(r = fused ? weights_.bind_slice(gu, E, 2 * MI, H, e, 0, MI, &w.gate) : weights_.bind_slice(g, E, MI, H, e, 0, MI, &w.gate)) ||
        !(r = fused ? weights_.bind_slice(gu, E, 2 * MI, H, e, MI, MI, &w.up) : weights_.bind_slice(u, E, MI, H, e, 0, MI, &w.up)) ||
        !(r = weights_.bind_slice(down, E, H, MI, e, 0, H, &w.down)))
      return r;
  }
  return result::ok();
}

result qwen35::bind_weights() {
  if (cfg.count(mixer_kind::linear_attention) > 0)
    if (result r = delta_net_check(dn_shape_); !r) return r;
  const std::string& P = cfg.weight_prefix;
  if (result r = bind_output(P + "embed_tokens.weight", P + "norm.weight", "lm_head.weight", true); !r) return r;
  const int H = cfg.hidden;
  layers_.resize(size_t(cfg.n_layer));  // sized before binding: the store keeps the weights' addresses
  for (int l = 0; l < cfg.n_layer; l++) {
    const std::string p = P + "layers." + std::to_string(l) + ".";
    qwen35_layer& L = layers_[size_t(l)];
    const bool linear = cfg.layers[size_t(l)].mixer == mixer_kind::linear_attention;
    result r;
    if (!(r = weights_.bind_norm(p + "input_layernorm.weight", H, &L.attn_norm)) ||
        !(r = weights_.bind_norm(p + "post_attention_layernorm.weight", H, &L.ffn_norm)) ||
        !(r = linear ? bind_linear(p, L) : bind_attention(p, L)) || !(r = bind_ffn(p, l, L)))
      return r;
    plus_one(L.attn_norm, H);
    plus_one(L.ffn_norm, H);
  }
  return result::ok();
}

}  // namespace

model* make_qwen35(const model_config& cfg) { return new qwen35(cfg); }

}  // namespace resident
