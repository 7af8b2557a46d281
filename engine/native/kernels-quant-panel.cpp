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
#include "quant-simd.h"
#include "quant-panel.h"

namespace resident {
namespace avx512 {
namespace {

constexpr int panel_rows = 32;     // 2 zmm of 16 rows
constexpr int kernel_tokens = 4;   // per pass: 8 unit sums, 8 block sums, 8 f32 sums in registers

using qpanel::xa_row;

// Per type: steps (4 values) per scale unit, units and offset pairs per block (0: no scales / offsets).
template <dtype T>
struct shape {
  static constexpr int E = block_elems(T);
  static constexpr int unit = T == dtype::q6_k ? 4 : 8;
  static constexpr int units = qpanel::scale_units<T>;
  static constexpr int pairs = qpanel::offset_pairs<T>;
};

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load16i(const void* p) { return _mm512_loadu_si512(p); }

// y[t][0, nrows) = x_t · panel rows for NT tokens.
template <dtype T, int NT>
void panel_kernel(const xa_row* xr, int k, const qpanel::panel& p, float* y, int ldy, int nrows) {
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
      if constexpr (sh::units > 0) {
        const uint32_t* S = p.S + (size_t(b) * sh::units + u0 / sh::unit) * panel_rows;
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

template <dtype T>
void matmul_t(const void* xq, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  const qpanel::panel p = qpanel::panel_at<T, panel_rows>(scratch, k);
  // S: each unit scale as int32, vpmulld's operand
  qpanel::panel_matmul<panel_rows, kernel_tokens>(
      xq, n, k, r0, r1, y, ldy, [&](int row0, int nrows) { qpanel::panel_build<T, panel_rows>(w, k, row0, nrows, p, [](int sc) { return uint32_t(sc); }); },
      [&](auto nt, const xa_row* xr, float* yt, int nrows) { panel_kernel<T, decltype(nt)::value>(xr, k, p, yt, ldy, nrows); });
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
