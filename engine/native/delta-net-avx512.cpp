// AVX-512 Gated DeltaNet kernels (delta-net-impl.h on 16-float lanes), compiled for that target only and
// chosen with the engine's avx512 kernel level (CPUID and XCR0 checked there).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "delta-net-levels.h"

// After the includes: only this file's own code is built for the target (see kernels-avx512.cpp).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
// GCC 12 flags the deliberate _mm512_undefined_* of its own intrinsic headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "avx512-lanes.h"
#include "delta-net-impl.h"

namespace resident {
namespace {

struct lanes_avx512 {
  using v = __m512;
  static constexpr int n = 16;
  // Tiles, measured on Zen 4: gemm 8 × 2 vectors (16 accumulators); recurrent blocks of 2 vectors, one chain
  // (best of 1..4 × 1..2); decode on whole 128-float rows; conv strips of 4 vectors (a TLB walk per 256 bytes).
  static constexpr int gemm_mr = 8, gemm_nr = 2, rec_nb = 2, rec_p = 1, dec_nb = 8, conv_nb = 4;
  static v zero() { return _mm512_setzero_ps(); }
  static v set1(float x) { return _mm512_set1_ps(x); }
  static v load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, v x) { _mm512_storeu_ps(p, x); }
  static v add(v a, v b) { return _mm512_add_ps(a, b); }
  static v sub(v a, v b) { return _mm512_sub_ps(a, b); }
  static v mul(v a, v b) { return _mm512_mul_ps(a, b); }
  static v rcp(v a) {  // 14-bit estimate + one Newton step: ~2^-28
    const __m512 r = _mm512_rcp14_ps(a);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
  }
  static v fma(v a, v b, v c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(v a) { return _mm512_reduce_add_ps(a); }
  static v exp(v x) { return avx512::exp16(x); }
};

void task_avx512(const delta_net_task& t, float* scratch) { task<lanes_avx512>(t, scratch); }

}  // namespace
}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
delta_net_task_fn delta_net_task_avx512() { return &task_avx512; }
}  // namespace resident
#else
#include "delta-net-levels.h"
namespace resident {
delta_net_task_fn delta_net_task_avx512() { return nullptr; }
}  // namespace resident
#endif
