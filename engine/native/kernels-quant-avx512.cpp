// AVX-512 VNNI matmul for block-quant weights (quant-formats.h): vpdpbusd multiplies 64 weight codes (u8) by 64
// activation bytes (s8) into 16 int32 lanes of 4 values each, so one instruction covers 4 groups of 16; lanes are
// scaled by S[g] per lane and accumulated in f32, times the activation scale dx once per 256-value unit (k-quants,
// one dx per unit) or per lane (two 32-blocks per 64-value unit).
// Without VNNI (or with k % 64 != 0 for the 32-blocks) the AVX2 kernel runs.
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "quant-formats.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "quant-simd.h"

namespace resident {
namespace {

using quant::x_row;

// Scales of one unit as 16 lanes, one per group of 16 values: s16[g] = S[g], c16[g] = C[g] (quant-formats.h); for
// 64-value units only lanes 0..3 count (c16 meets sx loaded with lanes 4..15 zero).
template <dtype T>
inline void unit_scales(const char* blk, __m512* s16, __m512* c16) {
  if constexpr (T == dtype::q8_0 || T == dtype::q4_0) {
    constexpr size_t B = block_bytes(T);
    uint16_t h0, h1;
    std::memcpy(&h0, blk, 2), std::memcpy(&h1, blk + B, 2);
    *s16 = _mm512_mask_blend_ps(0x000C, _mm512_set1_ps(_cvtsh_ss(h0)), _mm512_set1_ps(_cvtsh_ss(h1)));
    *c16 = _mm512_setzero_ps();  // unused: q4_0's offset 8 is taken exactly in the integer sums
  } else if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
    uint32_t u[4], h[2];
    std::memcpy(h, blk, 4);
    std::memcpy(u, blk + 4, 12);
    // 8 scales then 8 mins as bytes (the 6-bit fields of k4_scale_min, four at a time)
    u[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    const uint32_t m_lo = u[1] & 0x3f3f3f3f;
    u[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    u[2] = m_lo;
    u[0] &= 0x3f3f3f3f;
    // from registers, not memory: a vector load of the scalar stores above would stall on store forwarding
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_setr_epi32(int(u[0]), int(u[1]), int(u[2]), int(u[3]))));
    const float d = _cvtsh_ss(uint16_t(h[0])), dmin = _cvtsh_ss(uint16_t(h[0] >> 16));
    const __m512i half = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    *s16 = _mm512_mul_ps(_mm512_set1_ps(d), _mm512_permutexvar_ps(half, v));
    *c16 = _mm512_mul_ps(_mm512_set1_ps(dmin), _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(8)), v));
  } else {
    uint16_t h;
    std::memcpy(&h, blk + 208, 2);
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192))));
    *s16 = _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(h)), v);
    *c16 = _mm512_mul_ps(*s16, _mm512_set1_ps(32.0f));
  }
}

template <dtype T, int NT>
void row_tile(const char* wr, int k, const x_row* xr, float* y, int ldy) {
  constexpr int E = block_elems(T), U = E == 256 ? 256 : 64, G = U / 16;  // G: groups of 16 per unit
  constexpr size_t B = block_bytes(T);
  const __m512i idx4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i idx8 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  constexpr __mmask16 gmask = G == 16 ? 0xFFFF : 0xF;
  __m512 acc[NT], accm[NT];
  for (int t = 0; t < NT; t++) acc[t] = accm[t] = _mm512_setzero_ps();
  for (int un = 0; un < k / U; un++) {
    const char* blk = wr + size_t(un) * (U / E) * B;
    __m512 s16, c16;
    unit_scales<T>(blk, &s16, &c16);
    if constexpr (E == 256)
      for (int t = 0; t < NT; t++) accm[t] = _mm512_fmadd_ps(c16, _mm512_maskz_loadu_ps(gmask, xr[t].sx + G * un), accm[t]);
    __m512 part[NT];  // k-quants: this unit's sum before its one activation scale dx
    for (int t = 0; t < NT; t++) part[t] = _mm512_setzero_ps();
    for (int c = 0; c < U / 64; c++) {
      __m512i u;
      if constexpr (T == dtype::q4_k || T == dtype::q5_k) {  // both nibbles of 32 bytes: sub-blocks 2c (low) and 2c + 1 (high)
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + (T == dtype::q4_k ? 16 : 48) + 32 * c));
        u = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), _mm512_set1_epi8(0x0F));
        if constexpr (T == dtype::q5_k) {  // + 16 where bit 2c (low half) / 2c + 1 (high half) of qh[l] is set
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
          const __m512i bits = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(char(1 << (2 * c)))), _mm256_set1_epi8(char(2 << (2 * c))), 1);
          const __mmask64 high = _mm512_test_epi8_mask(_mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1), bits);
          u = _mm512_mask_add_epi8(u, high, u, _mm512_set1_epi8(16));
        }
      } else if constexpr (U == 64) {
        u = _mm512_inserti64x4(_mm512_castsi256_si512(qsimd::codes32<T>(blk, 0)), qsimd::codes32<T>(blk + B, 0), 1);
      } else {
        u = _mm512_inserti64x4(_mm512_castsi256_si512(qsimd::codes32<T>(blk, 2 * c)), qsimd::codes32<T>(blk, 2 * c + 1), 1);
      }
      __mmask64 neg = 0;
      if constexpr (T == dtype::q8_0) neg = _mm512_movepi8_mask(u), u = _mm512_abs_epi8(u);  // |w| · (±q): exact
      const __m512 sl = _mm512_permutexvar_ps(_mm512_add_epi32(idx4, _mm512_set1_epi32(4 * c)), s16);
      const int xb = un * (U / 32) + 2 * c;
      for (int t = 0; t < NT; t++) {
        __m512i q = _mm512_loadu_si512(xr[t].q + 32 * xb);
        if constexpr (T == dtype::q8_0) q = _mm512_mask_sub_epi8(q, neg, _mm512_setzero_si512(), q);
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, q);
        if constexpr (T == dtype::q4_0) s = _mm512_sub_epi32(s, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), q));  // exact Σ (u − 8)·q
        if constexpr (U == 256) {
          part[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sl, part[t]);
        } else {  // two 32-blocks, two activation scales
          const __m512 dl = _mm512_permutexvar_ps(idx8, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(xr[t].dx + xb)))));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sl, dl), acc[t]);
        }
      }
    }
    if constexpr (U == 256)
      for (int t = 0; t < NT; t++) acc[t] = _mm512_fmadd_ps(part[t], _mm512_set1_ps(xr[t].dx[un]), acc[t]);
  }
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(_mm512_sub_ps(acc[t], accm[t]));
}

template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  char* xq = reinterpret_cast<char*>(scratch);
  const size_t rb = row_bytes(T, k);
  x_row xr[quant_x_chunk];
  for (int t0 = 0; t0 < n; t0 += quant_x_chunk) {
    const int nt = std::min(quant_x_chunk, n - t0);
    qsimd::quantize_x_rows(x + size_t(t0) * k, nt, k, block_elems(T), xq);
    for (int t = 0; t < nt; t++) xr[t] = quant::x_row_at(xq, k, t);
    for (int r = r0; r < r1; r++) {
      const char* wr = static_cast<const char*>(w) + size_t(r) * rb;
      float* yr = y + size_t(t0) * ldy + r;
      int t = 0;
      for (; t + 4 <= nt; t += 4) row_tile<T, 4>(wr, k, xr + t, yr + size_t(t) * ldy, ldy);
      switch (nt - t) {
        case 3: row_tile<T, 3>(wr, k, xr + t, yr + size_t(t) * ldy, ldy); break;
        case 2: row_tile<T, 2>(wr, k, xr + t, yr + size_t(t) * ldy, ldy); break;
        case 1: row_tile<T, 1>(wr, k, xr + t, yr + size_t(t) * ldy, ldy); break;
        default: break;
      }
    }
  }
}

}  // namespace

void quant_matmul_avx512(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  static const bool vnni = cpu_has_avx512_vnni();
  if (!vnni || k % 64 != 0) return quant_matmul_avx2(x, n, k, w, wt, r0, r1, y, ldy, scratch);
  switch (wt) {
    case dtype::q8_0: return matmul_t<dtype::q8_0>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_0: return matmul_t<dtype::q4_0>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_k: return matmul_t<dtype::q4_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q5_k: return matmul_t<dtype::q5_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q6_k: return matmul_t<dtype::q6_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    default: return;
  }
}

}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
// AVX512_VNNI: CPUID.7.0:ECX bit 11, on top of the AVX-512 level.
bool cpu_has_avx512_vnni() {
  if (!cpu_has_avx512()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (c & (1u << 11)) != 0;
}
}  // namespace resident

#else
#include "kernels.h"
namespace resident {
bool cpu_has_avx512_vnni() { return false; }
void quant_matmul_avx512(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_portable(x, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
