// AVX2 pieces of the block-quant kernels (quant-formats.h), shared by kernels-quant-avx2.cpp and
// kernels-quant-avx512.cpp: include only inside a target pragma that enables AVX2 + F16C.
#pragma once
#include <immintrin.h>

#include "quant-formats.h"

namespace resident {
namespace qsimd {

struct half_f16c {
  float operator()(uint16_t h) const { return _cvtsh_ss(h); }
};

// The 32 codes of sub-block j of a block as bytes (q8_0: its int8 values; others unsigned 0..63).
template <dtype T>
inline __m256i codes32(const char* blk, int j) {
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  if constexpr (T == dtype::q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  } else if constexpr (T == dtype::q4_0) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
  } else if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
    constexpr int qs_at = T == dtype::q4_k ? 16 : 48;
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + qs_at + 32 * (j / 2)));
    __m256i u = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, lo4);
    if constexpr (T == dtype::q5_k) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
      const __m256i bit = _mm256_set1_epi8(char(1 << j));
      u = _mm256_or_si256(u, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(16)));
    }
    return u;
  } else {
    const int h = j / 4, p = j % 4;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (p & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
    const __m256i nib = _mm256_and_si256(p >= 2 ? _mm256_srli_epi16(ql, 4) : ql, lo4);
    const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * p)), _mm256_set1_epi8(3));
    return _mm256_or_si256(nib, _mm256_slli_epi16(hi, 4));
  }
}

// q4_k / q5_k: the 8 6-bit sub-block scales then the 8 mins of a block's 12 packed bytes u0 u1 u2 (dwords: scales
// u0 & 63, (u2 & 15) | (u0 >> 6) << 4; mins u1 & 63, (u2 >> 4) | (u1 >> 6) << 4) as 16 bytes; *d, *dmin its factors.
inline __m128i k4_scales_mins(const char* blk, float* d, float* dmin) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));  // u0 u1 u2 and 4 code bytes
  const __m128i lo = _mm_and_si128(x, _mm_set1_epi8(0x3f));
  const __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, 0xAA), _mm_setr_epi32(0, 4, 0, 0)), _mm_set1_epi8(0x0f)),
                                  _mm_and_si128(_mm_srli_epi32(x, 2), _mm_set1_epi8(0x30)));
  const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(*reinterpret_cast<const int*>(blk)));  // d, dmin
  *d = _mm_cvtss_f32(dd);
  *dmin = _mm_cvtss_f32(_mm_movehdup_ps(dd));
  return _mm_unpacklo_epi32(lo, hi);
}

// Quantizes nt rows of x (k values each, k % E == 0) in blocks of E (32 or 256) into the activation-block layout at
// out, bit-identical to quant::quantize_x_block.
inline void quantize_x_rows(const float* x, int nt, int k, int E, char* out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int t = 0; t < nt; t++) {
    char* p = out + size_t(t) * quant::x_row_bytes(k);
    int8_t* q = reinterpret_cast<int8_t*>(p);
    float* dx = reinterpret_cast<float*>(p + k);
    float* sx = dx + k / 32;
    int16_t* bs = reinterpret_cast<int16_t*>(sx + k / 16);
    const float* xr = x + size_t(t) * k;
    for (int b = 0; b < k / E; b++) {
      const float* xb = xr + size_t(b) * E;
      __m256 m = _mm256_setzero_ps();
      for (int i = 0; i < E; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
      const float amax = _mm_cvtss_f32(m4), id = amax > 0 ? 127 / amax : 0;
      const float d = quant::x_block_scale(E, amax, id, [](float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }, half_f16c());
      const __m256 idv = _mm256_set1_ps(id);
      dx[b] = d;
      for (int j = 0; j < E / 32; j++) {
        __m256i qi[4];
        for (int i = 0; i < 4; i++) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + 32 * j + 8 * i), idv));
        const __m256i s01 = _mm256_add_epi32(qi[0], qi[1]), s23 = _mm256_add_epi32(qi[2], qi[3]);
        __m256i h = _mm256_hadd_epi32(s01, s23);  // per 128-bit half: s01 pairs, s23 pairs
        h = _mm256_hadd_epi32(h, h);
        alignas(32) int32_t hs[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(hs), h);
        const __m256i p16 = _mm256_packs_epi32(qi[0], qi[1]), p16b = _mm256_packs_epi32(qi[2], qi[3]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + size_t(b) * E + 32 * j), _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16, p16b), perm));
        float* sg = sx + size_t(b) * (E / 16) + 2 * j;
        int16_t* bg = bs + size_t(b) * (E / 16) + 2 * j;
        bg[0] = int16_t(hs[0] + hs[4]), bg[1] = int16_t(hs[1] + hs[5]);
        sg[0] = d * float(bg[0]);
        sg[1] = d * float(bg[1]);
      }
    }
  }
}

}  // namespace qsimd
}  // namespace resident
