// Per-instruction-set entry points of the Gated DeltaNet block (delta-net-{portable,avx2,avx512}.cpp, each
// instantiating delta-net-impl.h for its lanes) and the scratch layout they share. Internal to delta-net.cpp.
#pragma once
#include "delta-net.h"

namespace resident {

// One pool task of delta_net_forward: sequence `seq`, k-head `k_head` and its value heads, in the chunked or
// the recurrent form (delta_net_mode).
struct delta_net_task {
  const delta_net_shape* shape;
  const delta_net_layer* w;
  const delta_net_io* io;
  const delta_net_seq* seq;
  int k_head;
  bool chunked;
};

// Float offsets into a task's scratch, each 16-float aligned. C = delta_net_chunk. Both forms use the buffers
// up to `recurrent_total`; the chunked form also the rest, up to `total`.
struct delta_net_scratch_layout {
  static constexpr int packed_cols = 64;
  size_t qn, kn;       // [C][d_k] normalised q (÷ sqrt(d_k)) and k of the chunk's tokens
  size_t g, beta;      // [C] gate, beta
  size_t qkd, sc, inv;  // [C] recurrent form: q·k and the lazy decay's factors (lazy_decay)
  size_t packed;       // [d_k][packed_cols] a column block of S (recurrent form)
  size_t recurrent_total;
  size_t eg, dec, gdiff;  // [C] exp(G) with G = cumsum g, exp(G_last - G), a row of G_i - G_j
  size_t knt, kdt;     // [d_k][C] kᵀ; kᵀ decayed to the chunk's end
  size_t kk, qk;       // [C][C] k_i·k_j, q_i·k_j (j <= i), shared by the k-head's value heads
  size_t att, pq;      // [C][C] the UT system's strictly lower part; the decayed intra-chunk scores
  size_t tinv;         // [C][C] (I + att)⁻¹, unit lower triangular
  size_t rhs, uw;      // [C][d_v + d_k] β v | β exp(G) k, and U | W = tinv · rhs; U becomes v_new
  size_t total;
  explicit delta_net_scratch_layout(const delta_net_shape& s) {
    constexpr size_t C = size_t(delta_net_chunk);
    const size_t dk = size_t(s.d_k), dv = size_t(s.d_v);
    size_t at = 0;
    auto take = [&at](size_t n) { const size_t o = at; at += (n + 15) / 16 * 16; return o; };
    qn = take(C * dk), kn = take(C * dk);
    g = take(C), beta = take(C), qkd = take(C), sc = take(C), inv = take(C);
    packed = take(dk * packed_cols);
    recurrent_total = at;
    eg = take(C), dec = take(C), gdiff = take(C), knt = take(dk * C), kdt = take(dk * C);
    kk = take(C * C), qk = take(C * C), att = take(C * C), pq = take(C * C), tinv = take(C * C);
    rhs = take(C * (dv + dk)), uw = take(C * (dv + dk));
    total = at;
  }
};

using delta_net_task_fn = void (*)(const delta_net_task& t, float* scratch);
void delta_net_task_portable(const delta_net_task& t, float* scratch);
delta_net_task_fn delta_net_task_avx2();    // nullptr when not compiled for this target
delta_net_task_fn delta_net_task_avx512();  // nullptr when not compiled for this target

}  // namespace resident
