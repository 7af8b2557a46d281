// AVX-512 row-tile matmul (decode and batched decode, n <= 16 tokens), compiled for that target only.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#include "avx512-lanes.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace resident {
namespace avx512 {
namespace {

constexpr int gemv_tokens = 8;  // token rows per pass over a weight row (16 accumulators)

// Row tiles (n <= row_tile_max_tokens): one weight row × NT tokens, 32 k per step; each weight element is
// loaded once per pass and feeds NT × 2 FMAs. Each (row, token) keeps two accumulators (the step's first
// and second 16 weights: two dependency chains) summed at the end, whatever NT is, so a token's result
// does not depend on the batch it is in. Rows stream one at a time: a sequential stream the hardware
// prefetcher follows (rows interleaved within a page measured ~2× slower at n = 1; 2 rows per pass lost
// to one row plus software prefetch at n = 8).
// x is staged in scratch as xs[t][kp] (kp = k rounded up to 32, zero padded) in the order load32 yields
// weights: bf16 as (16 even, 16 odd) elements of each 32-block — one load, a shift and a mask widen 32 — else
// natural order.

// 32 weights from index i (m < 32: only the first m, the rest 0) as two f32 vectors in the staging order.
template <dtype T>
inline void load32(const void* p, size_t i, int m, __m512& a, __m512& b) {
  if constexpr (T == dtype::q8) {  // i % 32 == 0: one whole block
    const char* blk = q8_block_at(p, i);
    const __m256i q = m >= 32 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)) : _mm256_maskz_loadu_epi8(__mmask32((1ull << m) - 1), blk);
    const __m512 d = _mm512_set1_ps(q8_scale(blk));
    a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))), d);
    b = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))), d);
  } else if constexpr (T == dtype::bf16) {
    const uint16_t* q = static_cast<const uint16_t*>(p) + i;
    const __m512i v = m >= 32 ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi16(__mmask32((1ull << m) - 1), q);
    a = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));                          // elements 2j
    b = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(-65536)));    // elements 2j + 1
  } else if (m >= 32) {
    a = load16<T>(p, i), b = load16<T>(p, i + 16);
  } else {
    a = load16_mask<T>(p, i, tail_mask(std::min(m, 16))), b = load16_mask<T>(p, i + 16, tail_mask(std::max(m - 16, 0)));
  }
}

// xs[t][0..kp) = x[t][0..k) in T's staging order, zero padded; t < n.
template <dtype T>
void stage_x(const float* x, int n, int k, float* xs, int kp) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int t = 0; t < n; t++)
    for (int i = 0; i < kp; i += 32) {
      const float* xr = x + size_t(t) * k + i;
      const int m = std::min(k - i, 32);
      const __m512 lo = _mm512_maskz_loadu_ps(tail_mask(std::min(m, 16)), xr);
      const __m512 hi = _mm512_maskz_loadu_ps(tail_mask(std::max(m - 16, 0)), xr + 16);
      float* o = xs + size_t(t) * kp + i;
      if constexpr (T == dtype::bf16) {
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(lo, even, hi));
        _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(lo, odd, hi));
      } else {
        _mm512_storeu_ps(o, lo), _mm512_storeu_ps(o + 16, hi);
      }
    }
}

// acc[t][0 | 1] += (32 weights of the row from i, m of them real) · xs[t][i..i+32), t < NT.
template <dtype T, int NT, bool Tail>
inline void tile_step(__m512 (&acc)[NT][2], const float* xs, int kp, const char* w, int i, int m) {
  if constexpr (!Tail && NT >= prefetch_min_tokens)
    for (size_t b = 0; b < elem_offset(T, 32); b += 64) _mm_prefetch(w + elem_offset(T, size_t(i)) + b + prefetch_ahead, _MM_HINT_T0);
  __m512 a, b;
  load32<T>(w, size_t(i), Tail ? m : 32, a, b);
  for (int t = 0; t < NT; t++) {
    acc[t][0] = _mm512_fmadd_ps(a, _mm512_loadu_ps(xs + size_t(t) * kp + i), acc[t][0]);
    acc[t][1] = _mm512_fmadd_ps(b, _mm512_loadu_ps(xs + size_t(t) * kp + i + 16), acc[t][1]);
  }
}

// y[t * ldy] = xs[t] · w, t < NT.
template <dtype T, int NT>
inline void tile(const float* xs, int kp, int k, const char* w, float* y, int ldy) {
  __m512 acc[NT][2];
  for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= k; i += 32) tile_step<T, NT, false>(acc, xs, kp, w, i, 32);
  if (i < k) tile_step<T, NT, true>(acc, xs, kp, w, i, k - i);
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
}

template <dtype T>
void row_tokens(const float* xs, int n, int kp, int k, const char* w, float* y, int ldy) {
  int t = 0;
  for (; t + gemv_tokens <= n; t += gemv_tokens) tile<T, gemv_tokens>(xs + size_t(t) * kp, kp, k, w, y + size_t(t) * ldy, ldy);
  const float* xt = xs + size_t(t) * kp;
  float* yt = y + size_t(t) * ldy;
  switch (n - t) {
    case 7: return tile<T, 7>(xt, kp, k, w, yt, ldy);
    case 6: return tile<T, 6>(xt, kp, k, w, yt, ldy);
    case 5: return tile<T, 5>(xt, kp, k, w, yt, ldy);
    case 4: return tile<T, 4>(xt, kp, k, w, yt, ldy);
    case 3: return tile<T, 3>(xt, kp, k, w, yt, ldy);
    case 2: return tile<T, 2>(xt, kp, k, w, yt, ldy);
    case 1: return tile<T, 1>(xt, kp, k, w, yt, ldy);
    default: return;
  }
}

template <dtype T>
void matmul_rows_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  const int kp = (k + 31) / 32 * 32;
  stage_x<T>(x, n, k, scratch, kp);
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  for (int r = r0; r < r1; r++) row_tokens<T>(scratch, n, kp, k, wb + size_t(r) * rb, y + r, ldy);
}

}  // namespace

void matmul_rows(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  RESIDENT_DTYPE_SWITCH(wt, matmul_rows_t, x, n, k, w, r0, r1, y, ldy, scratch)
}

}  // namespace avx512
}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
