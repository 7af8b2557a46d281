// Portable (scalar) Gated DeltaNet kernels: the reference level on every CPU (delta-net-impl.h, one lane).
#include <algorithm>
#include <cmath>

#include "delta-net-levels.h"
#include "delta-net-impl.h"

namespace resident {
namespace {

struct lanes_portable {
  using v = float;
  static constexpr int n = 1;
  // Tiles, measured: recurrent and decode blocks of 8 floats, one chain (best of 4 × 2, 8 × 1, 16 × 1); conv strips of 4.
  static constexpr int gemm_mr = 4, gemm_nr = 4, rec_nb = 8, rec_p = 1, dec_nb = 8, conv_nb = 4;
  static v zero() { return 0.0f; }
  static v set1(float x) { return x; }
  static v load(const float* p) { return *p; }
  static void store(float* p, v x) { *p = x; }
  static v add(v a, v b) { return a + b; }
  static v sub(v a, v b) { return a - b; }
  static v mul(v a, v b) { return a * b; }
  static v rcp(v a) { return 1.0f / a; }
  static v fma(v a, v b, v c) { return a * b + c; }
  static float hsum(v a) { return a; }
  static v exp(v x) { return std::exp(x); }
};

}  // namespace

void delta_net_task_portable(const delta_net_task& t, float* scratch) { task<lanes_portable>(t, scratch); }

}  // namespace resident
