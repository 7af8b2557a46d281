// Gated DeltaNet linear attention (Qwen3.5 / 3.6, Qwen3-Next "linear_attention" layers): the block between
// the input projections (in_proj_qkv, in_proj_z, in_proj_a, in_proj_b) and out_proj. Pure functions over f32
// buffers; the caller owns every buffer, the forward path allocates nothing.
//
// Per sequence and token t (HF transformers Qwen3_5GatedDeltaNet.forward, torch_recurrent_gated_delta_rule):
//   x_t = SiLU(causal depthwise conv1d, kernel K, over the qkv projection; K - 1 inputs carried in conv_state)
//   q, k, v = split(x_t, [key_dim, key_dim, value_dim]) into heads of d_k, d_k, d_v
//   q = l2norm(q) / sqrt(d_k), k = l2norm(k)          l2norm(x) = x * rsqrt(sum x² + 1e-6) per head
//   g = -exp(A_log) * softplus(a + dt_bias), beta = sigmoid(b)               per v-head
//   value head h reads q/k head h / (n_v_heads / n_k_heads)   (HF repeat_interleave on the HF weight order;
//     llama.cpp's converter permutes the V heads into tiled order instead, so GGUF weights map h % n_k_heads)
//   S = exp(g) S;  delta = beta (v - Sᵀk);  S += k ⊗ delta;  o = Sᵀq            S: [d_k][d_v] per v-head
//   out = rmsnorm(o) * norm_w * silu(z)    per v-head over d_v, eps = rms_norm_eps, norm_w as stored: unlike
//     Qwen3.5's other RMSNorms it is not zero-centred (llama.cpp's converter adds 1 to every norm.weight but
//     linear_attn.norm.weight)
// Qwen3-Next's fused in_proj_qkvz / in_proj_ba interleave [q, k, v, z] per k-head (llama.cpp's
// Qwen3NextModel.modify_tensors regroups them): such outputs need regrouping into this layout first.
// The chunked (WY / UT-transform) form of the same rule, 64 tokens per chunk, equals the recurrent form up to
// f32 rounding (test/model/delta-net.test.ts); see delta_net_mode for which one runs.
#pragma once
#include <cstddef>

#include "common.h"

namespace resident {

class thread_pool;
struct kernels;

// Layer shape from config.json: linear_num_key_heads, linear_num_value_heads, linear_key_head_dim,
// linear_value_head_dim, linear_conv_kernel_dim, rms_norm_eps. Qwen3.5-0.8B: 16, 16, 128, 128, 4, 1e-6.
struct delta_net_shape {
  int n_k_heads = 0, n_v_heads = 0, d_k = 0, d_v = 0, conv_kernel = 4;
  float norm_eps = 1e-6f;
  int key_dim() const { return n_k_heads * d_k; }
  int value_dim() const { return n_v_heads * d_v; }
  int conv_channels() const { return 2 * key_dim() + value_dim(); }  // q | k | v
};

// d_k, d_v multiples of 16; n_v_heads a multiple of n_k_heads; conv_kernel 4.
result delta_net_check(const delta_net_shape& s);

// Per-sequence recurrent state of one layer, f32: conv_state [conv_kernel - 1][conv_channels] (oldest input
// first; zeros for an empty sequence) and state [n_v_heads][d_k][d_v] (HF's layout: decode's Sᵀk, Sᵀq and the
// update walk rows of d_v contiguous floats).
inline size_t delta_net_conv_state_floats(const delta_net_shape& s) { return size_t(s.conv_kernel - 1) * size_t(s.conv_channels()); }
inline size_t delta_net_state_floats(const delta_net_shape& s) { return size_t(s.n_v_heads) * size_t(s.d_k) * size_t(s.d_v); }

// One layer's weights as f32. conv_w is transposed at load from HF's conv1d.weight [channels][1][K]
// (delta_net_pack_conv); a_log is HF's A_log itself (llama.cpp's GGUF stores -exp(A_log) instead).
struct delta_net_layer {
  const float* conv_w = nullptr;   // [conv_kernel][conv_channels]
  const float* a_log = nullptr;    // [n_v_heads]
  const float* dt_bias = nullptr;  // [n_v_heads]
  const float* norm_w = nullptr;   // [d_v], shared by every head
};

// conv_w [channels][K] (HF) → [K][channels].
void delta_net_pack_conv(const float* w_ck, int channels, int k, float* w_kc);

// A batch's rows (all sequences' tokens, each sequence's rows contiguous), each buffer with its row stride.
// qkv is overwritten with the conv + SiLU output (the rows the delta rule reads).
struct delta_net_io {
  float* qkv = nullptr;      // [n_tokens][ld_qkv], first conv_channels columns: in_proj_qkv output
  const float* z = nullptr;  // [n_tokens][ld_z], value_dim columns: in_proj_z output
  const float* a = nullptr;  // [n_tokens][ld_a], n_v_heads columns: in_proj_a output
  const float* b = nullptr;  // [n_tokens][ld_b], n_v_heads columns: in_proj_b output
  float* out = nullptr;      // [n_tokens][ld_out], value_dim columns written: out_proj's input
  int ld_qkv = 0, ld_z = 0, ld_a = 0, ld_b = 0, ld_out = 0;
};

// One sequence of the batch: rows [row0, row0 + n) and its state, read and updated in place.
struct delta_net_seq {
  int row0 = 0, n = 0;
  float* conv_state = nullptr;
  float* state = nullptr;
};

// recurrent: token by token; chunked: the chunked form on chunks of delta_net_chunk tokens (a sequence's last
// chunk may be shorter). automatic is the recurrent form, measured faster than the chunked form at every
// length on every level (Zen 4, one Qwen3.5-0.8B layer on one core, 512-token prefill: avx512 ~37k vs ~27k
// tokens/s, avx2 ~38k vs ~27k, portable ~4.4k vs ~2.9k): on a CPU the chunked form does more multiply-adds
// (3·d_k·d_v + C·(3·d_k/2 + d_v) per token against 3·d_k·d_v) and gains nothing for them, since the
// recurrent form keeps its block of S in L1 across a chunk's tokens and reads S for the next token in the
// pass that updates it.
enum class delta_net_mode { automatic, recurrent, chunked };
constexpr int delta_net_chunk = 64;

// Floats of scratch each pool thread needs for `mode` (64-byte aligned, private to the thread). Qwen3.5-0.8B:
// 97 KiB (automatic, recurrent), 370 KiB (chunked).
size_t delta_net_scratch_floats(const delta_net_shape& s, delta_net_mode mode);

// The block for every sequence: one pool task per (sequence, k-head), which owns that k-head's q/k
// channels and its n_v_heads / n_k_heads value heads (channels, states, output columns). `level` picks the
// instruction set (kernels::name of the engine's level). scratch[thread]: delta_net_scratch_floats(s, mode).
// One task rather than one per value head, so that no two tasks write the same conv-state columns.
void delta_net_forward(thread_pool& pool, const kernels& level, const delta_net_shape& s, const delta_net_layer& w,
                       const delta_net_io& io, const delta_net_seq* seqs, int n_seqs, float* const* scratch,
                       delta_net_mode mode = delta_net_mode::automatic);

}  // namespace resident
