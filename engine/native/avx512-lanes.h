// AVX-512 lane helpers shared by the AVX-512 kernel files (kernels-avx512*.cpp): loads of 16 weights of any
// dtype as f32 and masked tails. Include only from files compiled for that target, after other includes.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")

namespace resident {
namespace avx512 {

// Row tiles prefetch each streamed weight row prefetch_ahead bytes ahead from prefetch_min_tokens tokens per
// pass (Zen 4, 8 sessions: 58 → 70 tok/s f32, 83 → 100 bf16); at n = 1 it slows the plain sequential stream.
constexpr int prefetch_min_tokens = 4;
constexpr int prefetch_ahead = 2048;
constexpr int row_tile_max_tokens = 16;  // matmul_rows takes n <= this (its x staging fits the scratch)
static_assert(row_tile_max_tokens <= matmul_tile_tokens_max, "scratch stages at most matmul_tile_tokens_max token rows");

inline __mmask16 tail_mask(int m) { return __mmask16((1u << m) - 1); }  // m in [0, 16]

// The 16 horizontal sums of a[0..15] as one vector (lane i: Σ a[i]), in 15 adds of shuffled pairs, where 16
// reductions would take 4 dependent steps each: rows reduced together (a[] is clobbered). Lanes are paired as
// _mm512_reduce_add_ps pairs them (j + 8, j + 4, j + 2, j + 1), so each sum is bit-identical to that reduction's.
inline __m512 hsum16(__m512* a) {
  for (int i = 0; i < 8; i++)  // a[i]: lanes 0..7 partial sums of a[i], 8..15 of a[i + 8]
    a[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[i], a[i + 8], 0x44), _mm512_shuffle_f32x4(a[i], a[i + 8], 0xEE));
  for (int i = 0; i < 4; i++)  // 128-bit lanes: i, i + 8, i + 4, i + 12
    a[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[i], a[i + 4], 0x88), _mm512_shuffle_f32x4(a[i], a[i + 4], 0xDD));
  for (int i = 0; i < 2; i++)  // pairs of lanes: i, i + 2 in each 128-bit lane
    a[i] = _mm512_add_ps(_mm512_shuffle_ps(a[i], a[i + 2], 0x44), _mm512_shuffle_ps(a[i], a[i + 2], 0xEE));
  a[0] = _mm512_add_ps(_mm512_shuffle_ps(a[0], a[1], 0x88), _mm512_shuffle_ps(a[0], a[1], 0xDD));
  // lane L now holds Σ a[R[L]], R an involution
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15), a[0]);
}

// 16 elements of p (dtype T) from index i as f32; bf16 widens by zero-extend + shift, f16 by vcvtph2ps.
// q8 (i % 16 == 0: inside one block): 16 int8 sign-extended, converted, times the block's scale.
inline __m512 q8_scaled(const char* block, __m128i q) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(q8_scale(block)));
}

template <dtype T>
inline __m512 load16(const void* p, size_t i) {
  if constexpr (T == dtype::f32) {
    return _mm512_loadu_ps(static_cast<const float*>(p) + i);
  } else if constexpr (T == dtype::q8) {
    const char* b = q8_block_at(p, i);
    return q8_scaled(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i % q8_block)));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i));
    if constexpr (T == dtype::f16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// Like load16, lanes outside mask m read as 0 (and their memory is not touched).
template <dtype T>
inline __m512 load16_mask(const void* p, size_t i, __mmask16 m) {
  if constexpr (T == dtype::f32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
  } else if constexpr (T == dtype::q8) {
    const char* b = q8_block_at(p, i);
    return q8_scaled(b, _mm_maskz_loadu_epi8(m, b + i % q8_block));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i);
    if constexpr (T == dtype::f16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// exp(x), Cephes-style: 2^n · p(r), |rel err| ~1e-7; x < -87 gives 0 (std::exp gives a subnormal or 0 there).
inline __m512 exp16(__m512 x) {
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.3f));
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_add_ps(_mm512_fmadd_ps(y, _mm512_mul_ps(x, x), x), _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(keep, y, fx);
}

// Row-tile matmul for n <= row_tile_max_tokens (decode, batched decode): kernels-avx512-rows.cpp.
void matmul_rows(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);

}  // namespace avx512
}  // namespace resident

#pragma GCC pop_options
#endif
