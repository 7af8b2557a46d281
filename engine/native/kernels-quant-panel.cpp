// Block-quant prefill on AVX-512 VNNI (kernels::quant_matmul_panel of the AVX-512 level): llama.cpp's integers from
// 32-row panels of unsigned codes, built once per call and read by every token. P[s][r] holds values 4s .. 4s + 3 of
// row r as 4 code bytes (q8_0: w + 128; q4_0 / k-quants: the unsigned codes), so one vpdpbusd multiplies a step of
// 16 rows by a token's 4 broadcast activations (int8, the AVX2 level's rows: quant::xp_row) and adds into int32
// exactly; each scale unit's sum (a k-quant sub-block or group) is multiplied by the rows' integer scales
// (vpmulld), the offsets are taken in the integers, and one f32 step per block scales the exact block sum:
//   y = Σ_b dx_b · d_b · (Σ sc·u·q − [q6_k] Σ_g 32·sc_g·Σ_{i∈g} q − [q4_0] 8·Σ q − [q8_0] 128·Σ q)
//       − [q4_k/q5_k] Σ_b dx_b · dmin_b · Σ_j m_j·Σ_{i∈j} q
// — the integers of the tile kernels, one f32 step per block.
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

constexpr int panel_rows = 32;     // 2 zmm of 16 rows
constexpr int kernel_tokens = 4;   // per pass: 8 unit sums, 8 block sums, 8 f32 sums in registers

using qsimd::half_f16c;
using xa_row = quant::xp_row;
inline xa_row xa_at(const char* base, int k, int t) { return quant::xp_row_at(base + size_t(t) * panel_x_row_bytes(k), k); }

// Per type: steps (4 values) per scale unit, units and offset pairs per block (0: no scales / offsets).
template <dtype T>
struct shape {
  static constexpr int E = block_elems(T);
  static constexpr bool scaled = T == dtype::q4_k || T == dtype::q5_k || T == dtype::q6_k;
  static constexpr int unit = T == dtype::q6_k ? 4 : 8;
  static constexpr int units = scaled ? E / 4 / unit : 0;
  static constexpr int pairs = T == dtype::q6_k ? 8 : T == dtype::q4_k || T == dtype::q5_k ? 4 : 0;
};

// One 32-row panel: P[k / 4][32] code lanes; per block b: S[b][unit][32] int32 scales, D[b][32] = d, DM[b][32] = dmin,
// M[b][pair][32] int16 pairs (m_2p, m_2p+1) (q4_k / q5_k) or (32·sc_2p, 32·sc_2p+1) (q6_k).
struct panel {
  uint32_t* P;
  int32_t* S;
  float* D;
  float* DM;
  uint32_t* M;
};

template <dtype T>
panel panel_at(float* scratch, int k) {
  using sh = shape<T>;
  const size_t nb = size_t(k / sh::E);
  panel p;
  p.P = reinterpret_cast<uint32_t*>(scratch);
  p.S = reinterpret_cast<int32_t*>(p.P + size_t(k) / 4 * panel_rows);
  p.D = reinterpret_cast<float*>(p.S + nb * sh::units * panel_rows);
  p.DM = p.D + nb * panel_rows;
  p.M = reinterpret_cast<uint32_t*>(p.DM + nb * panel_rows);
  return p;
}

inline uint32_t pair16(int a, int b) { return uint32_t(uint16_t(int16_t(a))) | uint32_t(uint16_t(int16_t(b))) << 16; }

// Rows [row0, row0 + nrows) of w into the panel (rows beyond nrows: zero codes and scales).
template <dtype T>
void panel_build(const void* w, int k, int row0, int nrows, const panel& p) {
  using sh = shape<T>;
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  for (int b = 0; b < k / sh::E; b++) {
    for (int j0 = 0; j0 < panel_rows; j0 += 8)
      for (int j = 0; j < sh::E / 32; j++) {  // 32 values of 8 rows: an 8 × 8 transpose of 4-byte lanes
        __m256 r[8];
        for (int i = 0; i < 8; i++) {
          __m256i u = _mm256_setzero_si256();
          if (j0 + i < nrows) u = qsimd::codes32<T>(wb + size_t(row0 + j0 + i) * rb + size_t(b) * block_bytes(T), j);
          if constexpr (T == dtype::q8_0) u = _mm256_xor_si256(u, _mm256_set1_epi8(char(0x80)));  // w + 128
          r[i] = _mm256_castsi256_ps(u);
        }
        transpose8(r);
        for (int c = 0; c < 8; c++) _mm256_storeu_ps(reinterpret_cast<float*>(p.P + (size_t(b) * sh::E / 4 + 8 * j + c) * panel_rows + j0), r[c]);
      }
    for (int i = 0; i < panel_rows; i++) {
      const char* blk = i < nrows ? wb + size_t(row0 + i) * rb + size_t(b) * block_bytes(T) : nullptr;
      int32_t* S = p.S + size_t(b) * sh::units * panel_rows + i;
      uint32_t* M = p.M + size_t(b) * sh::pairs * panel_rows + i;
      float d = 0, dmin = 0;
      if constexpr (T == dtype::q8_0 || T == dtype::q4_0) {
        if (blk) d = half_f16c()(static_cast<const quant::block_q8_0*>(static_cast<const void*>(blk))->d);  // d: the first field of both
      } else if constexpr (T == dtype::q6_k) {
        const quant::block_q6_k* q = static_cast<const quant::block_q6_k*>(static_cast<const void*>(blk));
        if (blk) d = half_f16c()(q->d);
        for (int g = 0; g < 16; g++) S[g * panel_rows] = blk ? q->scales[g] : 0;
        for (int c = 0; c < 8; c++) M[c * panel_rows] = blk ? pair16(32 * q->scales[2 * c], 32 * q->scales[2 * c + 1]) : 0;
      } else {  // q4_k / q5_k: d, dmin and scales at the same offsets
        const quant::block_q4_k* q = static_cast<const quant::block_q4_k*>(static_cast<const void*>(blk));
        int m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (blk) d = half_f16c()(q->d), dmin = half_f16c()(q->dmin);
        for (int j = 0; j < 8; j++) {
          int sc = 0;
          if (blk) quant::k4_scale_min(q->scales, j, &sc, &m[j]);
          S[j * panel_rows] = sc;
        }
        for (int c = 0; c < 4; c++) M[c * panel_rows] = pair16(m[2 * c], m[2 * c + 1]);
      }
      p.D[size_t(b) * panel_rows + i] = d;
      p.DM[size_t(b) * panel_rows + i] = dmin;
    }
  }
}

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load16i(const void* p) { return _mm512_loadu_si512(p); }

// y[t][0, nrows) = x_t · panel rows for NT tokens.
template <dtype T, int NT>
void panel_kernel(const xa_row* xr, int k, const panel& p, float* y, int ldy, int nrows) {
  using sh = shape<T>;
  constexpr int steps = sh::E / 4;
  __m512 f[NT][2];
  for (int t = 0; t < NT; t++) f[t][0] = f[t][1] = _mm512_setzero_ps();
  for (int b = 0; b < k / sh::E; b++) {
    const uint32_t* pb = p.P + size_t(b) * steps * panel_rows;
    __m512i isum[NT][2];  // the block's exact sums
    for (int t = 0; t < NT; t++) isum[t][0] = isum[t][1] = _mm512_setzero_si512();
    for (int u0 = 0; u0 < steps; u0 += sh::unit) {
      __m512i a[NT][2];  // the unit's sums (unscaled types: the block's)
      for (int t = 0; t < NT; t++) a[t][0] = a[t][1] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int s = u0; s < u0 + sh::unit; s++) {
        const __m512i c0 = load16i(pb + size_t(s) * panel_rows), c1 = load16i(pb + size_t(s) * panel_rows + 16);
        for (int t = 0; t < NT; t++) {
          const __m512i xv = bcast4(xr[t].q + size_t(b) * sh::E + 4 * s);
          a[t][0] = _mm512_dpbusd_epi32(a[t][0], c0, xv);
          a[t][1] = _mm512_dpbusd_epi32(a[t][1], c1, xv);
        }
      }
      if constexpr (sh::scaled) {
        const int32_t* S = p.S + (size_t(b) * sh::units + u0 / sh::unit) * panel_rows;
        const __m512i s0 = load16i(S), s1 = load16i(S + 16);
        for (int t = 0; t < NT; t++) {
          isum[t][0] = _mm512_add_epi32(isum[t][0], _mm512_mullo_epi32(a[t][0], s0));
          isum[t][1] = _mm512_add_epi32(isum[t][1], _mm512_mullo_epi32(a[t][1], s1));
        }
      } else {
        for (int t = 0; t < NT; t++) isum[t][0] = a[t][0], isum[t][1] = a[t][1];
      }
    }
    const __m512 d0 = _mm512_loadu_ps(p.D + size_t(b) * panel_rows), d1 = _mm512_loadu_ps(p.D + size_t(b) * panel_rows + 16);
    const uint32_t* M = p.M + size_t(b) * sh::pairs * panel_rows;
    for (int t = 0; t < NT; t++) {
      if constexpr (T == dtype::q6_k) {  // − Σ_g 32·sc_g·bs_g, pairs of groups
        __m512i o0 = _mm512_setzero_si512(), o1 = _mm512_setzero_si512();
        for (int c = 0; c < sh::pairs; c++) {
          const __m512i bv = bcast4(xr[t].bs + 16 * b + 2 * c);
          o0 = _mm512_dpwssd_epi32(o0, load16i(M + c * panel_rows), bv);
          o1 = _mm512_dpwssd_epi32(o1, load16i(M + c * panel_rows + 16), bv);
        }
        isum[t][0] = _mm512_sub_epi32(isum[t][0], o0), isum[t][1] = _mm512_sub_epi32(isum[t][1], o1);
      } else if constexpr (T == dtype::q4_0 || T == dtype::q8_0) {  // − 8·Σ q (codes u − 8) or − 128·Σ q (codes w + 128)
        const __m512i o = _mm512_set1_epi32((T == dtype::q4_0 ? 8 : 128) * xr[t].b32[b]);
        isum[t][0] = _mm512_sub_epi32(isum[t][0], o), isum[t][1] = _mm512_sub_epi32(isum[t][1], o);
      }
      const __m512 dx = _mm512_set1_ps(xr[t].dx[b]);
      f[t][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t][0]), _mm512_mul_ps(d0, dx), f[t][0]);
      f[t][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t][1]), _mm512_mul_ps(d1, dx), f[t][1]);
    }
    if constexpr (T == dtype::q4_k || T == dtype::q5_k) {  // − dmin · dx · Σ_j m_j · b32_j, pairs of sub-blocks
      const __m512 m0 = _mm512_loadu_ps(p.DM + size_t(b) * panel_rows), m1 = _mm512_loadu_ps(p.DM + size_t(b) * panel_rows + 16);
      for (int t = 0; t < NT; t++) {
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
        for (int c = 0; c < sh::pairs; c++) {
          const __m512i bv = bcast4(xr[t].b32 + 8 * b + 2 * c);
          s0 = _mm512_dpwssd_epi32(s0, load16i(M + c * panel_rows), bv);
          s1 = _mm512_dpwssd_epi32(s1, load16i(M + c * panel_rows + 16), bv);
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
inline void panel_tail(int nt, const xa_row* xr, int k, const panel& p, float* y, int ldy, int nrows) {
  if constexpr (NT > 0) {
    if (nt != NT) return panel_tail<T, NT - 1>(nt, xr, k, p, y, ldy, nrows);
    panel_kernel<T, NT>(xr, k, p, y, ldy, nrows);
  }
}

template <dtype T>
void matmul_t(const void* xq, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  const panel p = panel_at<T>(scratch, k);
  const char* xb = static_cast<const char*>(xq);
  xa_row xr[kernel_tokens];
  for (int rb = r0; rb < r1; rb += panel_rows) {
    const int nrows = std::min(panel_rows, r1 - rb);
    panel_build<T>(w, k, rb, nrows, p);
    int t = 0;
    for (; t + kernel_tokens <= n; t += kernel_tokens) {
      for (int i = 0; i < kernel_tokens; i++) xr[i] = xa_at(xb, k, t + i);
      panel_kernel<T, kernel_tokens>(xr, k, p, y + size_t(t) * ldy + rb, ldy, nrows);
    }
    if (t < n) {
      for (int i = 0; t + i < n; i++) xr[i] = xa_at(xb, k, t + i);
      panel_tail<T, kernel_tokens - 1>(n - t, xr, k, p, y + size_t(t) * ldy + rb, ldy, nrows);
    }
  }
}

void quant_matmul_target(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  switch (wt) {
    case dtype::q8_0: return matmul_t<dtype::q8_0>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_0: return matmul_t<dtype::q4_0>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_k: return matmul_t<dtype::q4_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q5_k: return matmul_t<dtype::q5_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q6_k: return matmul_t<dtype::q6_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
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
void avx512::quant_matmul_panel(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_target(xq, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
