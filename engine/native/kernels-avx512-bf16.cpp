// AVX-512 BF16 matmul (vdpbf16ps) for BF16 weights times activations rounded to BF16 (engine_options::
// bf16_activations), compiled for that target only and used when CPUID reports avx512_bf16. Each
// instruction multiplies 16 pairs of bf16 (exact in f32) and adds both products to 16 f32 lanes: twice
// the multiply-adds of an f32 FMA. k % 32 == 0 (matmul.cpp falls back to f32 kernels otherwise). Also attention's
// P·V with bf16 P and a bf16 V (attention.cpp).
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>

#include "avx512-lanes.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "avx2-lanes.h"  // inside the target: transpose8 compiled for this file

namespace resident {
namespace avx512 {
namespace {

constexpr int tile_tokens = 8;  // token rows per pass over a weight row (row tiles)
constexpr int panel_tokens_min = 17;  // n from which weights are packed into panels (prefill)
constexpr int panel_cols = 32;        // weight rows per panel: 2 zmm of 16 (k, k+1) pairs
constexpr int panel_tokens = 8;       // token rows of the panel microkernel: 16 accumulators
// a whole-k panel (panel_cols × k bf16) fits the scratch that matmul_scratch_floats(k) sizes for row tiles
static_assert(panel_cols * 2 <= matmul_tile_tokens_max * 4, "bf16 panel exceeds the matmul scratch");
static_assert(panel_cols == bf16_panel_rows, "pack_bf16 panels are the panel kernel's width");

inline __m512 dot2(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

// ---- Row tiles (n < panel_tokens_min): one weight row × NT tokens, 32 k per step, rows streamed one at a
// time (as the f32 row tiles). Each (row, token) has one accumulator over all of k (vdpbf16ps's latency
// hides behind the other tokens and rows) whatever NT is: a token's result does not depend on the batch.
template <int NT>
inline void tile(const uint16_t* xb, int k, const uint16_t* w, float* y, int ldy) {
  __m512 acc[NT];
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
  for (int i = 0; i < k; i += 32) {
    if constexpr (NT >= prefetch_min_tokens) _mm_prefetch(reinterpret_cast<const char*>(w + i) + prefetch_ahead, _MM_HINT_T0);
    const __m512i wv = _mm512_loadu_si512(w + i);
    for (int t = 0; t < NT; t++) acc[t] = dot2(acc[t], wv, _mm512_loadu_si512(xb + size_t(t) * k + i));
  }
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(acc[t]);
}

void row_tokens(const uint16_t* xb, int n, int k, const uint16_t* w, float* y, int ldy) {
  int t = 0;
  for (; t + tile_tokens <= n; t += tile_tokens) tile<tile_tokens>(xb + size_t(t) * k, k, w, y + t * size_t(ldy), ldy);
  const uint16_t* xt = xb + size_t(t) * k;
  float* yt = y + size_t(t) * ldy;
  switch (n - t) {
    case 7: return tile<7>(xt, k, w, yt, ldy);
    case 6: return tile<6>(xt, k, w, yt, ldy);
    case 5: return tile<5>(xt, k, w, yt, ldy);
    case 4: return tile<4>(xt, k, w, yt, ldy);
    case 3: return tile<3>(xt, k, w, yt, ldy);
    case 2: return tile<2>(xt, k, w, yt, ldy);
    case 1: return tile<1>(xt, k, w, yt, ldy);
    default: return;
  }
}

// ---- Packed panels (n >= panel_tokens_min): P[kp][j] = the pair (w[row0 + j][2kp], w[row0 + j][2kp + 1]) as
// one 32-bit lane, j < 32 (zero beyond nrows), kp < k / 2: the whole of k, so each weight row is read once,
// sequentially (32 rows × k bf16 = 16k floats: within matmul_scratch_floats). Then an 8 × 32 microkernel: per
// pair, 2 panel loads and 8 broadcast x pairs feed 16 vdpbf16ps.
void pack_panel_bf16(const uint16_t* w, int k, int row0, int nrows, uint32_t* P) {
  const int pairs = k / 2;  // k % 32 == 0
  for (int j0 = 0; j0 < panel_cols; j0 += 8)
    for (int kp = 0; kp < pairs; kp += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = j0 + i < nrows ? _mm256_loadu_ps(reinterpret_cast<const float*>(w + size_t(row0 + j0 + i) * k + 2 * kp))
                              : _mm256_setzero_ps();
      transpose8(r);
      for (int c = 0; c < 8; c++) _mm256_storeu_ps(reinterpret_cast<float*>(P + size_t(kp + c) * panel_cols + j0), r[c]);
    }
}

// y[t][0..nrows) = xb[t] · panel, t < NT; xb rows have stride k.
template <int NT>
inline void panel_kernel(const uint16_t* xb, int k, const uint32_t* P, float* y, int ldy, int nrows) {
  __m512 c[NT][2];
  for (int t = 0; t < NT; t++) c[t][0] = c[t][1] = _mm512_setzero_ps();
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(xb);
  for (int kp = 0; kp < k / 2; kp++) {
    const __m512i b0 = _mm512_loadu_si512(P + size_t(kp) * panel_cols), b1 = _mm512_loadu_si512(P + size_t(kp) * panel_cols + 16);
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const __m512i a = _mm512_set1_epi32(int(x32[size_t(t) * (k / 2) + kp]));
      c[t][0] = dot2(c[t][0], a, b0);
      c[t][1] = dot2(c[t][1], a, b1);
    }
  }
  const __mmask16 m0 = tail_mask(std::min(nrows, 16)), m1 = tail_mask(std::max(nrows - 16, 0));
  for (int t = 0; t < NT; t++) {
    _mm512_mask_storeu_ps(y + size_t(t) * ldy, m0, c[t][0]);
    _mm512_mask_storeu_ps(y + size_t(t) * ldy + 16, m1, c[t][1]);
  }
}

// y[t][rb..rb + nrows) = xb[t] · panel P, t < n.
void panel_tokens_run(const uint16_t* xb, int n, int k, const uint32_t* P, float* y, int ldy, int rb, int nrows) {
  int t = 0;
  for (; t + panel_tokens <= n; t += panel_tokens) panel_kernel<panel_tokens>(xb + size_t(t) * k, k, P, y + size_t(t) * ldy + rb, ldy, nrows);
  const uint16_t* xt = xb + size_t(t) * k;
  float* yt = y + size_t(t) * ldy + rb;
  switch (n - t) {
    case 7: return panel_kernel<7>(xt, k, P, yt, ldy, nrows);
    case 6: return panel_kernel<6>(xt, k, P, yt, ldy, nrows);
    case 5: return panel_kernel<5>(xt, k, P, yt, ldy, nrows);
    case 4: return panel_kernel<4>(xt, k, P, yt, ldy, nrows);
    case 3: return panel_kernel<3>(xt, k, P, yt, ldy, nrows);
    case 2: return panel_kernel<2>(xt, k, P, yt, ldy, nrows);
    case 1: return panel_kernel<1>(xt, k, P, yt, ldy, nrows);
    default: return;
  }
}

void matmul_panel_bf16(const uint16_t* xb, int n, int k, const uint16_t* w, int r0, int r1, float* y, int ldy, uint32_t* P) {
  for (int rb = r0; rb < r1; rb += panel_cols) {
    const int nrows = std::min(panel_cols, r1 - rb);
    pack_panel_bf16(w, k, rb, nrows, P);
    panel_tokens_run(xb, n, k, P, y, ldy, rb, nrows);
  }
}

void matmul_bf16_target(const uint16_t* xb, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  const uint16_t* wb = static_cast<const uint16_t*>(w);
  if (n >= panel_tokens_min) matmul_panel_bf16(xb, n, k, wb, r0, r1, y, ldy, reinterpret_cast<uint32_t*>(scratch));
  else
    for (int r = r0; r < r1; r++) row_tokens(xb, n, k, wb + size_t(r) * k, y + r, ldy);
}

// Pre-packed weights (pack_bf16 at load): panel p = rows [32p, 32p + 32) at wp + p · 16k lanes; r0 % 32 == 0.
// Every n runs the panel kernel, so a token's result does not depend on the batch (nor on decode vs prefill).
void matmul_bf16_packed_target(const uint16_t* xb, int n, int k, const void* wp, int rows, int r0, int r1, float* y, int ldy) {
  const uint32_t* panels = static_cast<const uint32_t*>(wp);
  for (int rb = r0; rb < r1; rb += panel_cols)
    panel_tokens_run(xb, n, k, panels + size_t(rb / panel_cols) * (k / 2) * panel_cols, y, ldy, rb, std::min({panel_cols, r1 - rb, rows - rb}));
}

void pack_bf16_target(const uint16_t* w, int rows, int k, int p0, int p1, void* wp) {
  uint32_t* panels = static_cast<uint32_t*>(wp);
  for (int p = p0; p < p1; p++)
    pack_panel_bf16(w, k, p * panel_cols, std::min(panel_cols, rows - p * panel_cols), panels + size_t(p) * (k / 2) * panel_cols);
}

// ---- Attention P·V with bf16 P and V: out[r][d] += Σ_{i<n} p[r][i] · v[i][d]. V is first interleaved by position
// pairs, vi[j][d] = (v[2j][d], v[2j + 1][d]) (zero past n), so one vdpbf16ps takes two positions of 16 dims for one
// row; p rows hold bf16 pairs (p[r][n] zero when n is odd). Each (row, dim) sums the pairs in order from 0.
void interleave_v_pairs(const uint16_t* v, int n, int hd, uint32_t* vi) {
  alignas(64) static const uint16_t idx_init[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                                    8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  const __m512i idx = _mm512_load_si512(idx_init);
  for (int j = 0; 2 * j < n; j++) {
    const uint16_t *a = v + size_t(2 * j) * hd, *b = a + hd;
    const bool pair = 2 * j + 1 < n;
    for (int d = 0; d < hd; d += 16) {
      const __m512i x = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + d)));
      const __m512i y = pair ? _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + d))) : _mm512_setzero_si512();
      _mm512_storeu_si512(vi + size_t(j) * hd + d, _mm512_permutex2var_epi16(x, idx, y));
    }
  }
}

template <int R, int D>
inline void pv_bf16_block(const uint32_t* p32, int ldp32, int pairs, const uint32_t* vi, int hd, int d0, float* out, int ldo) {
  __m512 acc[R][D];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < D; j++) acc[r][j] = _mm512_setzero_ps();
  for (int i = 0; i < pairs; i++) {
    __m512i vj[D];
    for (int j = 0; j < D; j++) vj[j] = _mm512_loadu_si512(vi + size_t(i) * hd + d0 + 16 * j);
    for (int r = 0; r < R; r++) {
      const __m512i pr = _mm512_set1_epi32(int(p32[size_t(r) * ldp32 + i]));
      for (int j = 0; j < D; j++) acc[r][j] = dot2(acc[r][j], pr, vj[j]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < D; j++) {
      float* o = out + size_t(r) * ldo + d0 + 16 * j;
      _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[r][j]));
    }
}

// Dims [d0, d0 + 16·D) of all rows, 4 rows per block.
template <int D>
void pv_bf16_slice(const uint32_t* p32, int rows, int ldp32, int pairs, const uint32_t* vi, int hd, int d0, float* out, int ldo) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) pv_bf16_block<4, D>(p32 + size_t(r) * ldp32, ldp32, pairs, vi, hd, d0, out + size_t(r) * ldo, ldo);
  const uint32_t* pr = p32 + size_t(r) * ldp32;
  float* orow = out + size_t(r) * ldo;
  switch (rows - r) {
    case 3: return pv_bf16_block<3, D>(pr, ldp32, pairs, vi, hd, d0, orow, ldo);
    case 2: return pv_bf16_block<2, D>(pr, ldp32, pairs, vi, hd, d0, orow, ldo);
    case 1: return pv_bf16_block<1, D>(pr, ldp32, pairs, vi, hd, d0, orow, ldo);
    default: return;
  }
}

void attn_pv_bf16_target(const uint16_t* p, int rows, int ldp, int n, const uint16_t* v, int hd, float* out, int ldo, void* scratch) {
  uint32_t* vi = static_cast<uint32_t*>(scratch);
  interleave_v_pairs(v, n, hd, vi);
  const uint32_t* p32 = reinterpret_cast<const uint32_t*>(p);
  const int pairs = (n + 1) / 2;
  int d0 = 0;
  for (; d0 + 64 <= hd; d0 += 64) pv_bf16_slice<4>(p32, rows, ldp / 2, pairs, vi, hd, d0, out, ldo);
  for (; d0 < hd; d0 += 32) pv_bf16_slice<2>(p32, rows, ldp / 2, pairs, vi, hd, d0, out, ldo);
}

}  // namespace
}  // namespace avx512

}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
// Declared in kernels.h without a target: defined outside the pragma, calling the target code.
void avx512::matmul_bf16(const uint16_t* xb, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  matmul_bf16_target(xb, n, k, w, r0, r1, y, ldy, scratch);
}
void avx512::matmul_bf16_packed(const uint16_t* xb, int n, int k, const void* wp, int rows, int r0, int r1, float* y, int ldy) {
  matmul_bf16_packed_target(xb, n, k, wp, rows, r0, r1, y, ldy);
}
void avx512::pack_bf16(const uint16_t* w, int rows, int k, int p0, int p1, void* wp) { pack_bf16_target(w, rows, k, p0, p1, wp); }
void avx512::attn_pv_bf16(const uint16_t* p, int rows, int ldp, int n, const uint16_t* v, int hd, float* out, int ldo, void* scratch) {
  attn_pv_bf16_target(p, rows, ldp, n, v, hd, out, ldo, scratch);
}

// CPUID.(EAX=7, ECX=1):EAX bit 5 (AVX512_BF16), on top of the AVX-512 level.
bool cpu_has_avx512_bf16() {
  if (!cpu_has_avx512()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a & (1u << 5)) != 0;
}
}  // namespace resident
#else
#include "kernels.h"
namespace resident {
bool cpu_has_avx512_bf16() { return false; }
}  // namespace resident
#endif
