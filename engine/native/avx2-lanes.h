// 256-bit lane helpers shared by the AVX2 kernels and the 8-lane parts of the AVX-512 kernels: loads of 8 weights
// of any dtype as f32, scalar loads, the 8×8 transpose, f32 panel packing and the scalar tail of P·V.
// Target context: include this header only after the including file's `#pragma GCC target(...)` for AVX2+FMA+F16C
// or a superset (AVX-512). Everything here has internal linkage, so each including file compiles its own copy
// for its own target: no inline function leaves one file compiled for a wider ISA than another file expects.
// Used outside such a context, the intrinsics fail to inline and the build stops.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels.h"

namespace resident {
namespace {  // internal linkage: one copy per including file, compiled for that file's target

// exp(x), Cephes-style: 2^n · p(r), |rel err| ~1e-7; x < -87 gives 0 (std::exp gives a subnormal or 0 there).
inline __m256 exp8(__m256 x) {
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.3f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, _mm256_mul_ps(x, x), x), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

// 8 elements of p (dtype T) from index i as f32 (q8: i % 8 == 0, so the 8 lie inside one block).
template <dtype T>
inline __m256 load8(const void* p, size_t i) {
  if constexpr (T == dtype::f32) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
  } else if constexpr (T == dtype::q8) {
    const char* b = q8_block_at(p, i);
    const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i % q8_block)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(q8_scale(b)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
    if constexpr (T == dtype::f16) return _mm256_cvtph_ps(h);
    else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// Element i of p (dtype T) as f32.
template <dtype T>
inline float load1(const void* p, size_t i) {
  if constexpr (T == dtype::f32) return static_cast<const float*>(p)[i];
  else if constexpr (T == dtype::q8) return q8_value(p, i);
  else if constexpr (T == dtype::f16) return _cvtsh_ss(static_cast<const uint16_t*>(p)[i]);
  else return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

// The 8 horizontal sums of a[0..7] as one vector (lane i: Σ a[i]): rows reduced together, where 8 reductions
// would take 3 dependent steps each. Lanes are paired as a one-vector reduction pairs them (j + 4, then j + 2, then
// j + 1), so each sum is bit-identical to that reduction's.
inline __m256 hsum8(const __m256 a[8]) {
  __m256 b[4], c[2];
  for (int i = 0; i < 4; i++)  // lanes 0..3: a[i]'s j + 4 pairs; 4..7: a[i + 4]'s
    b[i] = _mm256_add_ps(_mm256_permute2f128_ps(a[i], a[i + 4], 0x20), _mm256_permute2f128_ps(a[i], a[i + 4], 0x31));
  for (int i = 0; i < 2; i++)  // per 128-bit half: two lanes of b[i], two of b[i + 2]
    c[i] = _mm256_add_ps(_mm256_shuffle_ps(b[i], b[i + 2], 0x44), _mm256_shuffle_ps(b[i], b[i + 2], 0xEE));
  const __m256 d = _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], 0x88), _mm256_shuffle_ps(c[0], c[1], 0xDD));
  return _mm256_permutevar8x32_ps(d, _mm256_setr_epi32(0, 2, 1, 3, 4, 6, 5, 7));  // d's lanes: rows 0 2 1 3 4 6 5 7
}

// In-place transpose of an 8×8 block of 32-bit lanes (panel packing).
inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// f32 panel of the packed-panel (prefill) matmuls: P[kk][j] = w[row0 + j][k0 + kk] for j < nrows, 0 for
// nrows <= j < Cols, kk < kc. w: [rows][k] in dtype T. Cols: the level's panel width (a multiple of 8).
template <dtype T, int Cols>
void pack_panel(const void* w, int k, int row0, int nrows, int k0, int kc, float* P) {
  static_assert(Cols % 8 == 0, "panels are packed 8 columns at a time");
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  for (int j0 = 0; j0 < Cols; j0 += 8) {
    if (j0 >= nrows) {  // whole 8-column group beyond the last row: zeros
      for (int kk = 0; kk < kc; kk++) _mm256_storeu_ps(P + size_t(kk) * Cols + j0, _mm256_setzero_ps());
      continue;
    }
    int kk = 0;
    for (; kk + 8 <= kc; kk += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = j0 + i < nrows ? load8<T>(wb + size_t(row0 + j0 + i) * rb, size_t(k0 + kk)) : _mm256_setzero_ps();
      transpose8(r);
      for (int c = 0; c < 8; c++) _mm256_storeu_ps(P + size_t(kk + c) * Cols + j0, r[c]);
    }
    for (; kk < kc; kk++)
      for (int i = 0; i < 8; i++)
        P[size_t(kk) * Cols + j0 + i] = j0 + i < nrows ? load1<T>(wb + size_t(row0 + j0 + i) * rb, size_t(k0 + kk)) : 0.0f;
  }
}

// Scalar tail of attn_pv: out[r * ldo + d] += sum_{i < n} p[r * ldp + i] * v[i * hd + d] for dims d0 <= d < hd
// (those the level's vector blocks leave), r < rows.
template <dtype T>
void attn_pv_tail(const float* p, int rows, int ldp, int n, const void* v, int hd, int d0, float* out, int ldo) {
  for (int d = d0; d < hd; d++)
    for (int r = 0; r < rows; r++) {
      float s = 0;
      for (int i = 0; i < n; i++) s += p[size_t(r) * ldp + i] * load1<T>(v, size_t(i) * hd + d);
      out[size_t(r) * ldo + d] += s;
    }
}

}  // namespace
}  // namespace resident

#endif
