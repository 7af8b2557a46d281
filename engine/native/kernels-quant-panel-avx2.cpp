// Block-quant prefill on AVX2 (kernels::quant_matmul_panel of the AVX2 level, and of AVX-512 without VNNI) for q4_0
// and the k-quants: llama.cpp's integers from 8-row panels of unsigned codes, built once per call and read by every
// token. P[s][r] holds values 4s .. 4s + 3 of row r as 4 code bytes, so one vpmaddubsw multiplies a step of 8 rows
// by a token's 4 broadcast activations (int8); the int16 pair sums add exactly over a run of R steps
// (R · 2 · max code · 127 < 2^15: q4_0 / q4_k 8, q5_k 4, q6_k 2), then one vpmaddwd by the rows' integer scales
// of the run (a sub-block's or group's) adds them into int32. f32 steps as the AVX2 tile kernels: q4_k / q5_k one
// per 64 values, q6_k / q4_0 one per block:
//   y = Σ_b dx_b · (d_b · Σ sc·u·q − [q4_k/q5_k] dmin_b/d_b · Σ_j m_j·Σ_{i∈j} q − [q6_k] Σ_g 32·sc_g·Σ_{i∈g} q − [q4_0] 8·Σ q)
// q8_0's signed codes do not fit vpmaddubsw's unsigned side: it stays on the tile kernels (quant_panel_types).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "kernels.h"
#include "quant-formats.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "avx2-lanes.h"  // transpose8
#include "quant-simd.h"  // quantize_x_rows
#include "quant-panel.h"

namespace resident {
namespace avx2 {
namespace {

constexpr int panel_rows = 8;      // one ymm of int32 lanes
constexpr int kernel_tokens = 4;   // per pass: 4 int16 runs, 4 int32 sums, 4 f32 sums in registers

using qpanel::xa_row;

void quantize_x_target(const float* x, int n, int k, int E, void* out) {
  for (int t = 0; t < n; t++) {
    char* p = static_cast<char*>(out) + size_t(t) * panel_x_row_bytes(k);
    qsimd::quantize_x_rows(x + size_t(t) * k, 1, k, E, p);
    const int16_t* bs = quant::x_row_at(p, k, 0).bs;
    int16_t* b32 = reinterpret_cast<int16_t*>(p + quant::x_row_bytes(k));  // quant::xp_row's b32
    for (int j = 0; j < k / 32; j++) b32[j] = int16_t(bs[2 * j] + bs[2 * j + 1]);
  }
}

// Per type: steps (4 values) per int16 run, per scale unit, per f32 step; scale units and offset pairs per block.
template <dtype T>
struct shape {
  static constexpr int E = block_elems(T);
  static constexpr int run = T == dtype::q5_k ? 4 : T == dtype::q6_k ? 2 : 8;
  static constexpr int unit = T == dtype::q6_k ? 4 : 8;
  static constexpr int f32_step = T == dtype::q4_k || T == dtype::q5_k ? 16 : E / 4;
  static constexpr int units = qpanel::scale_units<T>;
  static constexpr int pairs = qpanel::offset_pairs<T>;
};

inline __m256i load8i(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// y[t][0, nrows) = x_t · panel rows for NT tokens (not inlined: its 14 live vectors want all 16 registers).
template <dtype T, int NT>
__attribute__((noinline)) void panel_kernel(const xa_row* xr, int k, const qpanel::panel& p, float* y, int ldy, int nrows) {
  using sh = shape<T>;
  constexpr int steps = sh::E / 4;
  __m256 f[NT];
  for (int t = 0; t < NT; t++) f[t] = _mm256_setzero_ps();
  for (int b = 0; b < k / sh::E; b++) {
    const uint32_t* pb = p.P + size_t(b) * steps * panel_rows;
    const __m256 d = _mm256_loadu_ps(p.D + size_t(b) * panel_rows);
    alignas(32) __m256 dd[NT];  // d · dx per token (memory operands of the f32 steps)
    for (int t = 0; t < NT; t++) dd[t] = _mm256_mul_ps(d, _mm256_set1_ps(xr[t].dx[b]));
    for (int s0 = 0; s0 < steps; s0 += sh::f32_step) {
      __m256i isum[NT];
      for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
      for (int r0 = s0; r0 < s0 + sh::f32_step; r0 += sh::run) {
        __m256i a16[NT];
        for (int t = 0; t < NT; t++) a16[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int s = r0; s < r0 + sh::run; s++) {
          const __m256i c = load8i(pb + size_t(s) * panel_rows);
          for (int t = 0; t < NT; t++) {
            a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(c, bcast4(xr[t].q + size_t(b) * sh::E + 4 * s)));
            __asm__("" : "+x"(a16[t]));  // a running sum in its register (unpinned, GCC sums all products as a tree, spilling them)
          }
        }
        const __m256i sc = T == dtype::q4_0 ? _mm256_set1_epi16(1) : load8i(p.S + (size_t(b) * sh::units + r0 / sh::unit) * panel_rows);
        for (int t = 0; t < NT; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(a16[t], sc));
      }
      for (int t = 0; t < NT; t++) {
        if constexpr (T == dtype::q6_k) {  // − Σ_g 32·sc_g·bs_g, pairs of groups
          const uint32_t* M = p.M + size_t(b) * sh::pairs * panel_rows;
          for (int c = 0; c < sh::pairs; c++) isum[t] = _mm256_sub_epi32(isum[t], _mm256_madd_epi16(load8i(M + c * panel_rows), bcast4(xr[t].bs + 16 * b + 2 * c)));
        } else if constexpr (T == dtype::q4_0) {  // − 8·Σ q
          isum[t] = _mm256_sub_epi32(isum[t], _mm256_set1_epi32(8 * xr[t].b32[b]));
        }
        f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), dd[t], f[t]);
      }
    }
    if constexpr (T == dtype::q4_k || T == dtype::q5_k) {  // − dmin · dx · Σ_j m_j · b32_j, pairs of sub-blocks
      const uint32_t* M = p.M + size_t(b) * sh::pairs * panel_rows;
      const __m256 dm = _mm256_loadu_ps(p.DM + size_t(b) * panel_rows);
      for (int t = 0; t < NT; t++) {
        __m256i o = _mm256_setzero_si256();
        for (int c = 0; c < sh::pairs; c++) o = _mm256_add_epi32(o, _mm256_madd_epi16(load8i(M + c * panel_rows), bcast4(xr[t].b32 + 8 * b + 2 * c)));
        f[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(o), _mm256_mul_ps(dm, _mm256_set1_ps(xr[t].dx[b])), f[t]);
      }
    }
  }
  for (int t = 0; t < NT; t++) {
    if (nrows == panel_rows) {
      _mm256_storeu_ps(y + size_t(t) * ldy, f[t]);
    } else {
      alignas(32) float o[panel_rows];
      _mm256_store_ps(o, f[t]);
      std::copy(o, o + nrows, y + size_t(t) * ldy);
    }
  }
}

template <dtype T>
void matmul_t(const void* xq, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  const qpanel::panel p = qpanel::panel_at<T, panel_rows>(scratch, k);
  // S: each unit scale as the int16 pair (sc, sc), vpmaddwd's operand
  qpanel::panel_matmul<panel_rows, kernel_tokens>(
      xq, n, k, r0, r1, y, ldy, [&](int row0, int nrows) { qpanel::panel_build<T, panel_rows>(w, k, row0, nrows, p, [](int sc) { return qpanel::pair16(sc, sc); }); },
      [&](auto nt, const xa_row* xr, float* yt, int nrows) { panel_kernel<T, decltype(nt)::value>(xr, k, p, yt, ldy, nrows); });
}

void quant_matmul_target(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  switch (wt) {
    case dtype::q4_0: return matmul_t<dtype::q4_0>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_k: return matmul_t<dtype::q4_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q5_k: return matmul_t<dtype::q5_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q6_k: return matmul_t<dtype::q6_k>(xq, n, k, w, r0, r1, y, ldy, scratch);
    default: return;
  }
}

}  // namespace
}  // namespace avx2
}  // namespace resident

#pragma GCC pop_options

namespace resident {
// Declared in kernels.h without a target.
void avx2::quant_panel_x(const float* x, int n, int k, int E, void* out) { quantize_x_target(x, n, k, E, out); }
void avx2::quant_matmul_panel(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_target(xq, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
