// Block-quant prefill on AVX-512 VNNI (kernels::quant_matmul_x16): llama.cpp's integers, 32 weight rows per panel.
// A panel holds each row's codes times their integer group scale as int16 — q4_k/q5_k sc_j·u, q6_k sc_g·(u − 32),
// q8_0 u, q4_0 u − 8 — in pairs along k, so one vpdpwssd multiplies a pair of 16 rows by a token's broadcast pair of
// activations (int16 copies of the 8-bit blocks, quant-formats.h) and sums exactly in int32 over a block:
//   y = Σ_b d_b·dx_b·Σ_{i∈b} w16_i·q_i − (q4_k/q5_k) dmin_b·dx_b·Σ_j m_j·Σ_{i∈j} q_i
// the same integer sums as the tile kernels (one f32 step per block). A panel is built once per call and read by
// every token, so this path is for prefill (n >= quant_panel_min_tokens).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "avx512-lanes.h"
#include "kernels.h"
#include "quant-formats.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "avx2-lanes.h"  // transpose8, compiled for this file's target
#include "quant-simd.h"  // codes32, half_f16c

namespace resident {
namespace avx512 {
namespace {

constexpr int panel_rows = 32;  // 2 zmm of 16 rows
constexpr int group_rows = 8;   // rows converted together, then transposed 8 × 8 pairs at a time
constexpr int kernel_tokens = 6;  // tokens per microkernel pass: 12 int32 + 12 f32 accumulators

using qsimd::half_f16c;

// The x16 row of token t: q[k] int16, dx[k / 32] (one per block), b32[k / 32] (Σ q over each 32 values).
struct x16_row {
  const int16_t* q;
  const float* dx;
  const int16_t* b32;
};
inline x16_row x16_at(const char* base, int k, int t) {
  const char* p = base + size_t(t) * x16_row_bytes(k);
  return {reinterpret_cast<const int16_t*>(p), reinterpret_cast<const float*>(p + 2 * size_t(k)),
          reinterpret_cast<const int16_t*>(p + 2 * size_t(k) + size_t(k) / 32 * 4)};
}

void quantize_x16_target(const float* x, int n, int k, int E, void* out) {
  for (int t = 0; t < n; t++) {
    char* p = static_cast<char*>(out) + size_t(t) * x16_row_bytes(k);
    int16_t* q = reinterpret_cast<int16_t*>(p);
    float* dx = reinterpret_cast<float*>(p + 2 * size_t(k));
    int16_t* b32 = reinterpret_cast<int16_t*>(p + 2 * size_t(k) + size_t(k) / 32 * 4);
    const float* xr = x + size_t(t) * k;
    for (int b = 0; b < k / E; b++) {
      const float* xb = xr + size_t(b) * E;
      __m512 m = _mm512_setzero_ps();
      for (int i = 0; i < E; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xb + i)));
      const float amax = _mm512_reduce_max_ps(m), id = amax > 0 ? 127 / amax : 0;
      dx[b] = quant::x_block_scale(E, amax, id, [](float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }, half_f16c());
      const __m512 idv = _mm512_set1_ps(id);
      for (int j = 0; j < E / 32; j++) {  // rne(x · id) as quantize_x_block (MXCSR: round to nearest even)
        const __m512i v0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 32 * j), idv));
        const __m512i v1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 32 * j + 16), idv));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + size_t(b) * E + 32 * j), _mm512_cvtepi32_epi16(v0));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + size_t(b) * E + 32 * j + 16), _mm512_cvtepi32_epi16(v1));
        b32[b * (E / 32) + j] = int16_t(_mm512_reduce_add_epi32(_mm512_add_epi32(v0, v1)));
      }
    }
  }
}

// One block of a row as int16 w16[E] (above), with its f32 scale d (and q4_k/q5_k dmin, the min pairs
// mp[p] = (m_2p, m_2p+1) as int16 pairs).
template <dtype T>
inline void block_w16(const char* blk, int16_t* w16, float* d, float* dmin, uint32_t* mp) {
  if constexpr (T == dtype::q8_0 || T == dtype::q4_0) {
    *d = half_f16c()(static_cast<const quant::block_q8_0*>(static_cast<const void*>(blk))->d);  // d: the first field of both
    __m256i u = qsimd::codes32<T>(blk, 0);
    if constexpr (T == dtype::q4_0) u = _mm256_sub_epi8(u, _mm256_set1_epi8(8));
    _mm512_storeu_si512(w16, _mm512_cvtepi8_epi16(u));
  } else {
    int16_t gs[16];  // integer scale of each 16-value group
    if constexpr (T == dtype::q6_k) {
      const quant::block_q6_k* b = static_cast<const quant::block_q6_k*>(static_cast<const void*>(blk));
      *d = half_f16c()(b->d);
      for (int g = 0; g < 16; g++) gs[g] = b->scales[g];
    } else {
      const quant::block_q4_k* b = static_cast<const quant::block_q4_k*>(static_cast<const void*>(blk));  // d, dmin, scales: same offsets in q5_k
      *d = half_f16c()(b->d), *dmin = half_f16c()(b->dmin);
      int m[8];
      for (int j = 0; j < 8; j++) {
        int sc;
        quant::k4_scale_min(b->scales, j, &sc, &m[j]);
        gs[2 * j] = gs[2 * j + 1] = int16_t(sc);
      }
      for (int p = 0; p < 4; p++) mp[p] = uint32_t(m[2 * p]) | uint32_t(m[2 * p + 1]) << 16;
    }
    for (int j = 0; j < 8; j++) {
      __m512i c = _mm512_cvtepu8_epi16(qsimd::codes32<T>(blk, j));
      if constexpr (T == dtype::q6_k) c = _mm512_sub_epi16(c, _mm512_set1_epi16(32));
      const __m512i s = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(gs[2 * j])), _mm256_set1_epi16(gs[2 * j + 1]), 1);
      _mm512_storeu_si512(w16 + 32 * j, _mm512_mullo_epi16(c, s));
    }
  }
}

// A panel of rows [row0, row0 + nrows) (zero rows beyond): P[kp][j] = the int16 pair (w16[j][2kp], w16[j][2kp + 1]);
// D[b][j] = d, DM[b][j] = dmin, MP[b][p][j] = min pair p (q4_k/q5_k) of block b of row j.
template <dtype T>
void panel_build(const void* w, int k, int row0, int nrows, uint32_t* P, float* D, float* DM, uint32_t* MP) {
  constexpr int E = block_elems(T);
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  alignas(64) int16_t tmp[group_rows][E];
  for (int j0 = 0; j0 < panel_rows; j0 += group_rows)
    for (int b = 0; b < k / E; b++) {
      for (int i = 0; i < group_rows; i++) {
        const int j = j0 + i;
        float d = 0, dmin = 0;
        uint32_t mp[4] = {0, 0, 0, 0};
        if (j < nrows) block_w16<T>(wb + size_t(row0 + j) * rb + size_t(b) * block_bytes(T), tmp[i], &d, &dmin, mp);
        else std::fill(tmp[i], tmp[i] + E, int16_t(0));
        D[b * panel_rows + j] = d;
        if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
          DM[b * panel_rows + j] = dmin;
          for (int p = 0; p < 4; p++) MP[(b * 4 + p) * panel_rows + j] = mp[p];
        }
      }
      for (int kp = 0; kp < E / 2; kp += 8) {  // 8 pairs of 8 rows: one 8 × 8 transpose of 32-bit lanes
        __m256 r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_load_ps(reinterpret_cast<const float*>(tmp[i] + 2 * kp));
        transpose8(r);
        for (int c = 0; c < 8; c++) _mm256_storeu_ps(reinterpret_cast<float*>(P + (size_t(b) * E / 2 + kp + c) * panel_rows + j0), r[c]);
      }
    }
}

// y[t][0, nrows) = x_t · panel for NT tokens.
template <dtype T, int NT>
void panel_kernel(const x16_row* xr, int k, const uint32_t* P, const float* D, const float* DM, const uint32_t* MP, float* y, int ldy, int nrows) {
  constexpr int E = block_elems(T);
  constexpr bool mins = T == dtype::q4_k || T == dtype::q5_k;
  __m512 f[NT][2];
  for (int t = 0; t < NT; t++) f[t][0] = f[t][1] = _mm512_setzero_ps();
  for (int b = 0; b < k / E; b++) {
    __m512i a[NT][2];
    for (int t = 0; t < NT; t++) a[t][0] = a[t][1] = _mm512_setzero_si512();
    const uint32_t* pb = P + size_t(b) * (E / 2) * panel_rows;
    for (int i = 0; i < E / 2; i++) {
      const __m512i w0 = _mm512_loadu_si512(pb + i * panel_rows), w1 = _mm512_loadu_si512(pb + i * panel_rows + 16);
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        int32_t pair;
        std::memcpy(&pair, xr[t].q + size_t(b) * E + 2 * i, 4);
        const __m512i xv = _mm512_set1_epi32(pair);
        a[t][0] = _mm512_dpwssd_epi32(a[t][0], w0, xv);
        a[t][1] = _mm512_dpwssd_epi32(a[t][1], w1, xv);
      }
    }
    const __m512 d0 = _mm512_loadu_ps(D + b * panel_rows), d1 = _mm512_loadu_ps(D + b * panel_rows + 16);
    for (int t = 0; t < NT; t++) {
      const __m512 dx = _mm512_set1_ps(xr[t].dx[b]);
      f[t][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[t][0]), _mm512_mul_ps(d0, dx), f[t][0]);
      f[t][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[t][1]), _mm512_mul_ps(d1, dx), f[t][1]);
    }
    if constexpr (mins) {
      const __m512 m0 = _mm512_loadu_ps(DM + b * panel_rows), m1 = _mm512_loadu_ps(DM + b * panel_rows + 16);
      for (int t = 0; t < NT; t++) {
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
        for (int p = 0; p < 4; p++) {
          int32_t pair;
          std::memcpy(&pair, xr[t].b32 + 8 * b + 2 * p, 4);
          const __m512i bv = _mm512_set1_epi32(pair);
          s0 = _mm512_dpwssd_epi32(s0, _mm512_loadu_si512(MP + (b * 4 + p) * panel_rows), bv);
          s1 = _mm512_dpwssd_epi32(s1, _mm512_loadu_si512(MP + (b * 4 + p) * panel_rows + 16), bv);
        }
        const __m512 dx = _mm512_set1_ps(xr[t].dx[b]);
        f[t][0] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(m0, dx), f[t][0]);
        f[t][1] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(m1, dx), f[t][1]);
      }
    }
  }
  const __mmask16 k0 = tail_mask(std::min(nrows, 16)), k1 = tail_mask(std::max(nrows - 16, 0));
  for (int t = 0; t < NT; t++) {
    _mm512_mask_storeu_ps(y + size_t(t) * ldy, k0, f[t][0]);
    _mm512_mask_storeu_ps(y + size_t(t) * ldy + 16, k1, f[t][1]);
  }
}

template <dtype T, int NT>
inline void panel_tail(int nt, const x16_row* xr, int k, const uint32_t* P, const float* D, const float* DM, const uint32_t* MP, float* y, int ldy, int nrows) {
  if constexpr (NT > 0) {
    if (nt != NT) return panel_tail<T, NT - 1>(nt, xr, k, P, D, DM, MP, y, ldy, nrows);
    panel_kernel<T, NT>(xr, k, P, D, DM, MP, y, ldy, nrows);
  }
}

template <dtype T>
void matmul_x16_t(const void* xq, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  constexpr int E = block_elems(T);
  uint32_t* P = reinterpret_cast<uint32_t*>(scratch);  // [k / 2][32], then D, DM: [k / E][32] f32, MP: [k / E][4][32]
  float* D = scratch + size_t(k) / 2 * panel_rows;
  float* DM = D + size_t(k / E) * panel_rows;
  uint32_t* MP = reinterpret_cast<uint32_t*>(DM + size_t(k / E) * panel_rows);
  const char* xb = static_cast<const char*>(xq);
  for (int rb = r0; rb < r1; rb += panel_rows) {
    const int nrows = std::min(panel_rows, r1 - rb);
    panel_build<T>(w, k, rb, nrows, P, D, DM, MP);
    x16_row xr[kernel_tokens];
    int t = 0;
    for (; t + kernel_tokens <= n; t += kernel_tokens) {
      for (int i = 0; i < kernel_tokens; i++) xr[i] = x16_at(xb, k, t + i);
      panel_kernel<T, kernel_tokens>(xr, k, P, D, DM, MP, y + size_t(t) * ldy + rb, ldy, nrows);
    }
    if (t < n) {
      for (int i = 0; t + i < n; i++) xr[i] = x16_at(xb, k, t + i);
      panel_tail<T, kernel_tokens - 1>(n - t, xr, k, P, D, DM, MP, y + size_t(t) * ldy + rb, ldy, nrows);
    }
  }
}

void quant_matmul_x16_target(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  switch (wt) {
    case dtype::q8_0: return matmul_x16_t<dtype::q8_0>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_0: return matmul_x16_t<dtype::q4_0>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_k: return matmul_x16_t<dtype::q4_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q5_k: return matmul_x16_t<dtype::q5_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q6_k: return matmul_x16_t<dtype::q6_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    default: return;
  }
}

}  // namespace
}  // namespace avx512
}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
// Declared in kernels.h without a target.
void avx512::quant_x16(const float* x, int n, int k, int E, void* out) { quantize_x16_target(x, n, k, E, out); }
void avx512::quant_matmul_x16(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_x16_target(xq, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
