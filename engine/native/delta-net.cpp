// Gated DeltaNet block driver: shape checks, conv weight packing, scratch sizing, level choice and the
// pool tasks (one per sequence and k-head). The arithmetic is in delta-net-impl.h.
#include "delta-net.h"

#include <cstring>
#include <string>

#include "delta-net-levels.h"
#include "kernels.h"
#include "thread-pool.h"

namespace resident {

result delta_net_check(const delta_net_shape& s) {
  auto fail = [](const std::string& m) { return result::fail(status::unsupported, "linear attention: " + m); };
  if (s.n_k_heads < 1 || s.n_v_heads < 1 || s.d_k < 1 || s.d_v < 1) return fail("head counts and sizes must be positive");
  if (s.d_k % 16 != 0 || s.d_v % 16 != 0)
    return fail("key and value head sizes must be multiples of 16, got " + std::to_string(s.d_k) + " and " + std::to_string(s.d_v));
  if (s.n_v_heads % s.n_k_heads != 0)
    return fail("value heads (" + std::to_string(s.n_v_heads) + ") must be a multiple of key heads (" + std::to_string(s.n_k_heads) + ")");
  if (s.conv_kernel != 4) return fail("conv kernel size 4 only, got " + std::to_string(s.conv_kernel));
  if (!(s.norm_eps > 0.0f)) return fail("rms_norm_eps must be positive");
  return result::ok();
}

void delta_net_pack_conv(const float* w_ck, int channels, int k, float* w_kc) {
  for (int c = 0; c < channels; c++)
    for (int j = 0; j < k; j++) w_kc[size_t(j) * channels + c] = w_ck[size_t(c) * k + j];
}

size_t delta_net_scratch_floats(const delta_net_shape& s, delta_net_mode mode) {
  const delta_net_scratch_layout l(s);
  return (mode == delta_net_mode::chunked ? l.total : l.recurrent_total) + 16;
}

namespace {
delta_net_task_fn task_for(const kernels& level) {
  if (std::strcmp(level.name, "avx512") == 0 && delta_net_task_avx512()) return delta_net_task_avx512();
  if ((std::strcmp(level.name, "avx512") == 0 || std::strcmp(level.name, "avx2") == 0) && delta_net_task_avx2())
    return delta_net_task_avx2();
  return &delta_net_task_portable;
}
}  // namespace

void delta_net_forward(thread_pool& pool, const kernels& level, const delta_net_shape& s, const delta_net_layer& w,
                       const delta_net_io& io, const delta_net_seq* seqs, int n_seqs, float* const* scratch,
                       delta_net_mode mode) {
  const delta_net_task_fn fn = task_for(level);
  const bool chunked = mode == delta_net_mode::chunked;  // automatic: recurrent (delta_net_mode)
  const int per_seq = s.n_k_heads;
  pool.run(n_seqs * per_seq, [&](int task, int thread) {
    const delta_net_seq& sq = seqs[task / per_seq];
    if (sq.n > 0) fn({&s, &w, &io, &sq, task % per_seq, chunked}, scratch[thread]);
  });
}

}  // namespace resident
