// AVX2 + FMA Gated DeltaNet kernels (delta-net-impl.h on 8-float lanes), compiled for that target only and
// chosen with the engine's avx2 kernel level.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "delta-net-levels.h"

// After the includes: only this file's own code is built for the target (see kernels-avx512.cpp).
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "avx2-lanes.h"
#include "delta-net-impl.h"

namespace resident {
namespace {

struct lanes_avx2 {
  using v = __m256;
  static constexpr int n = 8;
  // Tiles, measured on Zen 4: gemm 6 × 2 vectors (12 accumulators); recurrent blocks of 2 vectors, two chains
  // (4 × 1 the same); decode blocks of 4 vectors (8 chains); conv strips of 2 vectors (a cache line per row).
  static constexpr int gemm_mr = 6, gemm_nr = 2, rec_nb = 2, rec_p = 2, dec_nb = 4, conv_nb = 2;
  static v zero() { return _mm256_setzero_ps(); }
  static v set1(float x) { return _mm256_set1_ps(x); }
  static v load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, v x) { _mm256_storeu_ps(p, x); }
  static v add(v a, v b) { return _mm256_add_ps(a, b); }
  static v sub(v a, v b) { return _mm256_sub_ps(a, b); }
  static v mul(v a, v b) { return _mm256_mul_ps(a, b); }
  static v rcp(v a) {  // 12-bit estimate + one Newton step: ~2^-23
    const __m256 r = _mm256_rcp_ps(a);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
  }
  static v fma(v a, v b, v c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(v a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static v exp(v x) { return exp8(x); }
};

void task_avx2(const delta_net_task& t, float* scratch) { task<lanes_avx2>(t, scratch); }

}  // namespace
}  // namespace resident

#pragma GCC pop_options

namespace resident {
delta_net_task_fn delta_net_task_avx2() { return &task_avx2; }
}  // namespace resident
#else
#include "delta-net-levels.h"
namespace resident {
delta_net_task_fn delta_net_task_avx2() { return nullptr; }
}  // namespace resident
#endif
