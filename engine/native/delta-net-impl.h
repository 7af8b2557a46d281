// Gated DeltaNet kernels written once over a lane type L, instantiated by delta-net-{portable,avx2,avx512}.cpp
// after their target pragma. Everything sits in an anonymous namespace: each level's copy stays private to
// its translation unit, so code built for one target is never merged into another. Include last.
//
// L: using v (L::n floats); zero, set1, load, store (64-byte alignment not required), add, sub, mul, rcp (~1 ulp),
// fma(a, b, c) = a·b + c, hsum, exp (exp of x < -87 is 0); tiles gemm_mr × gemm_nr vectors (register tile of
// gemm, delta-net-chunked.h), rec_nb vectors × rec_p chains (the block of S the recurrent form keeps hot across a chunk's tokens),
// dec_nb vectors (decode's block), conv_nb vectors (a conv strip).
// Shapes: d_k, d_v multiples of 16 (delta_net_check), so every row is whole vectors on every level.
#pragma once

namespace resident {
namespace {

template <class L>
using vec = typename L::v;

constexpr float l2norm_eps = 1e-6f;  // HF l2norm(eps=1e-6); llama.cpp's build_gdn_l2_norm: rms_norm_eps (1e-6)

template <class L>
inline vec<L> silu(vec<L> x) {
  return L::mul(x, L::rcp(L::add(L::set1(1.0f), L::exp(L::sub(L::zero(), x)))));
}

template <class L>
inline float dot(const float* a, const float* b, int n) {  // n % L::n == 0
  vec<L> s0 = L::zero(), s1 = L::zero();
  int i = 0;
  for (; i + 2 * L::n <= n; i += 2 * L::n) {
    s0 = L::fma(L::load(a + i), L::load(b + i), s0);
    s1 = L::fma(L::load(a + i + L::n), L::load(b + i + L::n), s1);
  }
  for (; i < n; i += L::n) s0 = L::fma(L::load(a + i), L::load(b + i), s0);
  return L::hsum(L::add(s0, s1));
}

inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }  // torch F.softplus (threshold 20)

// Causal depthwise conv1d (kernel 4) + SiLU over channels [c0, c1) of n rows of x (stride ldx), in place:
// y[t][c] = silu(Σ_j w[j][c] · in[t - 3 + j][c]), in[-3..-1] = state rows 0..2 (oldest first). The state
// ends holding the last three inputs. w: [4][channels]; state: [3][channels]. (HF causal_conv1d_fn /
// causal_conv1d_update; ggml_ssm_conv sums the window oldest first, as here.)
template <class L, int NB>
void conv_silu_strip(float* x, int ldx, int n, int c, const float* w, int channels, float* state) {
  vec<L> w0[NB], w1[NB], w2[NB], w3[NB], s0[NB], s1[NB], s2[NB];
  for (int b = 0; b < NB; b++) {
    const int cb = c + b * L::n;
    w0[b] = L::load(w + cb), w1[b] = L::load(w + channels + cb), w2[b] = L::load(w + 2 * channels + cb), w3[b] = L::load(w + 3 * channels + cb);
    s0[b] = L::load(state + cb), s1[b] = L::load(state + channels + cb), s2[b] = L::load(state + 2 * channels + cb);
  }
  float* p = x + c;
  for (int t = 0; t < n; t++, p += ldx)
    for (int b = 0; b < NB; b++) {
      const vec<L> xt = L::load(p + b * L::n);
      vec<L> acc = L::mul(w0[b], s0[b]);
      acc = L::fma(w1[b], s1[b], acc);
      acc = L::fma(w2[b], s2[b], acc);
      acc = L::fma(w3[b], xt, acc);
      L::store(p + b * L::n, silu<L>(acc));
      s0[b] = s1[b], s1[b] = s2[b], s2[b] = xt;
    }
  for (int b = 0; b < NB; b++) {
    const int cb = c + b * L::n;
    L::store(state + cb, s0[b]), L::store(state + channels + cb, s1[b]), L::store(state + 2 * channels + cb, s2[b]);
  }
}

template <class L>
void conv_silu(float* x, int ldx, int n, int c0, int c1, const float* w, int channels, float* state) {
  constexpr int W = L::conv_nb * L::n;
  int c = c0;
  for (; c + W <= c1; c += W) conv_silu_strip<L, L::conv_nb>(x, ldx, n, c, w, channels, state);
  for (; c < c1; c += L::n) conv_silu_strip<L, 1>(x, ldx, n, c, w, channels, state);
}

// y = x · rsqrt(Σ x² + 1e-6) · scale over n floats (HF l2norm, then q's 1/sqrt(d_k) folded in).
template <class L>
void l2norm(const float* x, float* y, int n, float scale) {
  const vec<L> s = L::set1(scale / std::sqrt(dot<L>(x, x, n) + l2norm_eps));
  for (int i = 0; i < n; i += L::n) L::store(y + i, L::mul(L::load(x + i), s));
}

// o = rmsnorm(o) · w · silu(z) over n floats, in place (HF Qwen3_5RMSNormGated: weight used as stored).
template <class L>
void gated_norm(float* o, const float* z, const float* w, int n, float eps) {
  const vec<L> r = L::set1(1.0f / std::sqrt(dot<L>(o, o, n) / float(n) + eps));
  for (int i = 0; i < n; i += L::n)
    L::store(o + i, L::mul(L::mul(L::mul(L::load(o + i), r), L::load(w + i)), silu<L>(L::load(z + i))));
}

// Recurrent form for columns [j0, j0 + NB·L::n) of one value head over n tokens (HF
// torch_recurrent_gated_delta_rule): S = e·S; kv = Sᵀk; d = β(v - kv); S += k ⊗ d; o = Sᵀq. Columns are
// independent, so a block of S stays in L1 across the tokens, and token t's update pass also reads Sᵀk, Sᵀq
// for token t + 1 (one load, three FMAs and one store per element and token). The decay is applied lazily:
// the block holds S / c with c = sc[t] the decay accumulated since it was last exact, so kv = c·Sᵀk,
// o = c·Sᵀq + (q·k)·d, and the update is S += k ⊗ (d / c) where inv[t] = 1 / c, or the exact S = c·S + k ⊗ d
// where inv[t] == 0 (every call's last token, and before c underflows). S: [d_k][d_v]; q, k rows of d_k
// (qn, kn); v, o rows of stride ldv, ldo; beta, qk = q·k per token.
template <class L, int NB, int P>
struct recurrent_block {
  vec<L> ak[P][NB], aq[P][NB];  // Sᵀk, Sᵀq; P chains per column vector (rows i % P) hide the FMA latency

  void clear() {
    for (int p = 0; p < P; p++)
      for (int b = 0; b < NB; b++) ak[p][b] = L::zero(), aq[p][b] = L::zero();
  }
  // Row pass over S: the update of token t (when Update) and the read of Sᵀk, Sᵀq for the token after it
  // (when Read). Rows go in groups of P so each chain keeps its accumulators in registers.
  template <bool Update, bool Exact, bool Read>
  void pass(float* S, int dk, int dv, const float* k, const vec<L>* d, vec<L> c, const float* qn, const float* kn) {
    clear();
    for (int i = 0; i < dk; i += P)
      for (int p = 0; p < P; p++) {
        float* row = S + size_t(i + p) * dv;
        vec<L> s[NB];
        for (int b = 0; b < NB; b++) s[b] = L::load(row + b * L::n);
        if constexpr (Update) {
          const vec<L> ki = L::set1(k[i + p]);
          for (int b = 0; b < NB; b++) {
            s[b] = L::fma(ki, d[b], Exact ? L::mul(s[b], c) : s[b]);
            L::store(row + b * L::n, s[b]);
          }
        }
        if constexpr (Read) {
          const vec<L> kv = L::set1(kn[i + p]), qv = L::set1(qn[i + p]);
          for (int b = 0; b < NB; b++) ak[p][b] = L::fma(s[b], kv, ak[p][b]), aq[p][b] = L::fma(s[b], qv, aq[p][b]);
        }
      }
  }
  vec<L> sum_k(int b) const { return P == 1 ? ak[0][b] : L::add(ak[0][b], ak[P - 1][b]); }
  vec<L> sum_q(int b) const { return P == 1 ? aq[0][b] : L::add(aq[0][b], aq[P - 1][b]); }
};

// S rows are d_v floats apart (512 bytes for d_v = 128): a block's rows would fall in few L1 sets, so for more
// than two tokens the block is copied to `packed` ([d_k][NB·L::n] contiguous) and back.
template <class L, int NB, int P>
void recurrent_cols(float* S, int dk, int dv, int j0, int n, const float* qn, const float* kn, const float* v, int ldv,
                    const float* sc, const float* inv, const float* beta, const float* qk, float* o, int ldo, float* packed) {
  constexpr int W = NB * L::n;
  const bool pack = n > 2;
  float* Sb = pack ? packed : S + j0;
  const int ld = pack ? W : dv;
  if (pack)
    for (int i = 0; i < dk; i++)
      for (int b = 0; b < NB; b++) L::store(packed + size_t(i) * W + b * L::n, L::load(S + size_t(i) * dv + j0 + b * L::n));
  static_assert(P == 1 || P == 2, "sum_k / sum_q add two chains at most");
  recurrent_block<L, NB, P> r;
  r.template pass<false, false, true>(Sb, dk, ld, nullptr, nullptr, L::zero(), qn, kn);
  for (int t = 0; t < n; t++) {
    const vec<L> cv = L::set1(sc[t]), bv = L::set1(beta[t]), qkv = L::set1(qk[t]);
    vec<L> d[NB];
    for (int b = 0; b < NB; b++) {
      const size_t c = size_t(j0 + b * L::n);
      const vec<L> kv = L::mul(cv, r.sum_k(b));
      d[b] = L::mul(L::sub(L::load(v + size_t(t) * ldv + c), kv), bv);
      L::store(o + size_t(t) * ldo + c, L::fma(qkv, d[b], L::mul(cv, r.sum_q(b))));
    }
    const float* k = kn + size_t(t) * dk;
    const float *qn1 = qn + size_t(t + 1) * dk, *kn1 = kn + size_t(t + 1) * dk;
    const bool next = t + 1 < n;
    if (inv[t] != 0.0f) {
      const vec<L> iv = L::set1(inv[t]);
      for (int b = 0; b < NB; b++) d[b] = L::mul(d[b], iv);
      if (next) r.template pass<true, false, true>(Sb, dk, ld, k, d, cv, qn1, kn1);
      else r.template pass<true, false, false>(Sb, dk, ld, k, d, cv, nullptr, nullptr);
    } else {
      if (next) r.template pass<true, true, true>(Sb, dk, ld, k, d, cv, qn1, kn1);
      else r.template pass<true, true, false>(Sb, dk, ld, k, d, cv, nullptr, nullptr);
    }
  }
  if (pack)
    for (int i = 0; i < dk; i++)
      for (int b = 0; b < NB; b++) L::store(S + size_t(i) * dv + j0 + b * L::n, L::load(packed + size_t(i) * W + b * L::n));
}

// Lazy decay factors of recurrent_cols from the gates g of n tokens: sc[t] = Π exp(g) since the last exact
// update, inv[t] = 1 / sc[t], or 0 for an exact update (the last token, or sc below 2^-40 so S / c stays finite).
inline void lazy_decay(const float* g, int n, float* sc, float* inv) {
  float c = 1.0f;
  for (int t = 0; t < n; t++) {
    c *= std::exp(g[t]);
    sc[t] = c;
    const bool exact = t == n - 1 || c < 0x1p-40f;
    inv[t] = exact ? 0.0f : 1.0f / c;
    if (exact) c = 1.0f;
  }
}

template <class L>
void recurrent(float* S, int dk, int dv, int n, const float* qn, const float* kn, const float* v, int ldv,
               const float* sc, const float* inv, const float* beta, const float* qk, float* o, int ldo, float* packed) {
  // Several tokens: blocks of rec_nb vectors, packed, rec_p chains. One token (decode): S streams once, in
  // blocks of dec_nb vectors (whole rows where the registers allow), one chain per vector.
  constexpr int NB = L::rec_nb, W = NB * L::n, DB = L::dec_nb, DW = DB * L::n;
  static_assert(W <= delta_net_scratch_layout::packed_cols, "the packed block fits its scratch");
  int j0 = 0;
  if (n == 1) {
    for (; j0 + DW <= dv; j0 += DW) recurrent_cols<L, DB, 1>(S, dk, dv, j0, n, qn, kn, v, ldv, sc, inv, beta, qk, o, ldo, packed);
  } else {
    for (; j0 + W <= dv; j0 += W) recurrent_cols<L, NB, L::rec_p>(S, dk, dv, j0, n, qn, kn, v, ldv, sc, inv, beta, qk, o, ldo, packed);
  }
  for (; j0 < dv; j0 += L::n) recurrent_cols<L, 1, 2>(S, dk, dv, j0, n, qn, kn, v, ldv, sc, inv, beta, qk, o, ldo, packed);
}

}  // namespace
}  // namespace resident

#include "delta-net-chunked.h"  // gemm, chunk: the chunked form

namespace resident {
namespace {

// One task: the conv over the k-head's q / k channels and its value heads' v channels, then per chunk of
// tokens the normalised q / k (shared by the value heads) and per value head its gates, the delta rule and
// the gated norm into io.out.
template <class L>
void task(const delta_net_task& T, float* scr) {
  const delta_net_shape& s = *T.shape;
  const delta_net_io& io = *T.io;
  const delta_net_seq& sq = *T.seq;
  const delta_net_layer& w = *T.w;
  constexpr int C = delta_net_chunk;
  const int dk = s.d_k, dv = s.d_v, kd = s.key_dim(), ch = s.conv_channels(), kh = T.k_head;
  const int per_k = s.n_v_heads / s.n_k_heads;  // value heads per k-head: h = kh · per_k + r (repeat_interleave)
  float* x = io.qkv + size_t(sq.row0) * io.ld_qkv;
  conv_silu<L>(x, io.ld_qkv, sq.n, kh * dk, (kh + 1) * dk, w.conv_w, ch, sq.conv_state);
  conv_silu<L>(x, io.ld_qkv, sq.n, kd + kh * dk, kd + (kh + 1) * dk, w.conv_w, ch, sq.conv_state);
  conv_silu<L>(x, io.ld_qkv, sq.n, 2 * kd + kh * per_k * dv, 2 * kd + (kh + 1) * per_k * dv, w.conv_w, ch, sq.conv_state);

  const delta_net_scratch_layout lay(s);
  float *qn = scr + lay.qn, *kn = scr + lay.kn, *g = scr + lay.g, *beta = scr + lay.beta;
  const float qscale = 1.0f / std::sqrt(float(dk));
  for (int t0 = 0; t0 < sq.n; t0 += C) {
    const int n = std::min(C, sq.n - t0);
    const float* xr = x + size_t(t0) * io.ld_qkv;
    for (int t = 0; t < n; t++) {
      l2norm<L>(xr + size_t(t) * io.ld_qkv + kh * dk, qn + size_t(t) * dk, dk, qscale);
      l2norm<L>(xr + size_t(t) * io.ld_qkv + kd + kh * dk, kn + size_t(t) * dk, dk, 1.0f);
    }
    if (T.chunked) {
      for (int c = 0; c < dk; c++) {
        float* r = scr + lay.knt + size_t(c) * C;
        for (int t = 0; t < n; t++) r[t] = kn[size_t(t) * dk + c];
        for (int t = n; t < C; t++) r[t] = 0.0f;
      }
      gemm<L>(n, C, dk, kn, dk, scr + lay.knt, C, scr + lay.kk, C, 0.0f, 1.0f, nullptr, tri::lower_n);
      gemm<L>(n, C, dk, qn, dk, scr + lay.knt, C, scr + lay.qk, C, 0.0f, 1.0f, nullptr, tri::lower_n);
    } else {
      for (int t = 0; t < n; t++) scr[lay.qkd + size_t(t)] = dot<L>(qn + size_t(t) * dk, kn + size_t(t) * dk, dk);
    }
    for (int r = 0; r < per_k; r++) {
      const int h = kh * per_k + r;
      const float neg_a = -std::exp(w.a_log[h]), dtb = w.dt_bias[h];
      const size_t row = size_t(sq.row0 + t0);
      for (int t = 0; t < n; t++) {
        g[t] = neg_a * softplus(io.a[(row + t) * io.ld_a + h] + dtb);  // g = -exp(A_log) · softplus(a + dt_bias)
        beta[t] = 1.0f / (1.0f + std::exp(-io.b[(row + t) * io.ld_b + h]));
      }
      float* S = sq.state + size_t(h) * dk * dv;
      const float* v = xr + 2 * kd + h * dv;
      float* o = io.out + row * io.ld_out + h * dv;
      if (T.chunked) {
        chunk<L>(S, dk, dv, n, v, io.ld_qkv, o, io.ld_out, scr, lay);
      } else {
        float *sc = scr + lay.sc, *inv = scr + lay.inv;
        lazy_decay(g, n, sc, inv);
        recurrent<L>(S, dk, dv, n, qn, kn, v, io.ld_qkv, sc, inv, beta, scr + lay.qkd, o, io.ld_out, scr + lay.packed);
      }
      for (int t = 0; t < n; t++)
        gated_norm<L>(o + size_t(t) * io.ld_out, io.z + (row + t) * io.ld_z + h * dv, w.norm_w, dv, s.norm_eps);
    }
  }
}

}  // namespace
}  // namespace resident
