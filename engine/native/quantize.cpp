// Int8 weight mode: load-time quantization of weight rows into the q8 layout (common.h): per block of 32
// values, d = max|x| / 127 and q = round(x / d) (nearest, ties to even), so |x - d·q| <= d / 2.
#include <sys/mman.h>

#include <cmath>

#include "model.h"

namespace resident {

void q8_quantize_rows(const void* src, dtype t, int k, int r0, int r1, void* dst) {
  const size_t src_rb = row_bytes(t, k), dst_rb = row_bytes(dtype::q8, k);
  float x[q8_block];
  for (int r = r0; r < r1; r++) {
    const char* s = static_cast<const char*>(src) + size_t(r) * src_rb;
    char* o = static_cast<char*>(dst) + size_t(r) * dst_rb;
    for (int b = 0; b < k / q8_block; b++, o += q8_block_bytes) {
      kernels_portable().to_f32(s + elem_offset(t, size_t(b) * q8_block), t, x, q8_block);
      float amax = 0.0f;
      for (float v : x) amax = std::fabs(v) > amax ? std::fabs(v) : amax;
      const float d = amax / 127.0f, inv = d > 0.0f ? 1.0f / d : 0.0f;
      int8_t* q = reinterpret_cast<int8_t*>(o);
      for (int i = 0; i < q8_block; i++) {
        const float v = std::nearbyint(x[i] * inv);  // |v| <= 127 up to rounding of inv; NaN weights give 0
        q[i] = int8_t(v >= 127.0f ? 127 : v <= -127.0f ? -127 : v == v ? int(v) : 0);
      }
      std::memcpy(o + q8_block, &d, 4);
    }
  }
}

// Every matmul weight with a multiple of 32 columns (projections, MLPs, experts, lm_head) becomes q8 in
// one anonymous huge-page arena; embeddings (row lookups), the router and norms keep their dtype.
result model::quantize_weights() {
  std::vector<weight*> ws{&lm_head_};  // tied: lm_head_ starts as embed_ and gets its own q8 copy; lookups keep embed_
  for (layer_weights& L : layers_) {
    for (weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) ws.push_back(w);
    for (expert_weights& e : L.experts)
      for (weight* w : {&e.gate, &e.up, &e.down}) ws.push_back(w);
  }
  size_t total = 0;
  std::vector<size_t> at;
  for (weight* w : ws) {
    at.push_back(total);
    if (w->data && w->cols % q8_block == 0) total += (size_t(w->rows) * row_bytes(dtype::q8, w->cols) + 63) / 64 * 64;
  }
  if (total == 0) return result::ok();
  void* arena = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (arena == MAP_FAILED) return result::fail(status::load_error, "cannot allocate " + std::to_string(total >> 20) + " MiB for int8 weights");
  madvise(arena, total, MADV_HUGEPAGE);
  files_.push_back({"<int8 weights>", arena, total, total});
  for (size_t i = 0; i < ws.size(); i++) {
    weight& w = *ws[i];
    if (!w.data || w.cols % q8_block != 0) continue;
    char* dst = static_cast<char*>(arena) + at[i];
    constexpr int rows_per_task = 64;
    pool_->run((w.rows + rows_per_task - 1) / rows_per_task, [&](int t, int) {
      q8_quantize_rows(w.data, w.type, w.cols, t * rows_per_task, std::min(w.rows, (t + 1) * rows_per_task), dst);
    });
    w.data = dst;
    w.type = dtype::q8;
  }
  mprotect(arena, total, PROT_READ);
  return result::ok();
}

}  // namespace resident
