// Int8 weight mode: load-time quantization of weight rows into the q8 layout (common.h): per block of 32
// values, d = max|x| / 127 and q = round(x / d) (nearest, ties to even), so |x - d·q| <= d / 2.
#include <cmath>

#include "kernels.h"
#include "weight-store.h"

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

// Every float matmul weight with a multiple of 32 columns (GGUF block types stay as they are) (projections, MLPs, experts, lm_head) becomes q8 in
// the weight arena (weight-arena.cpp); embeddings (row lookups), the router and norms keep their dtype.
weight_rewrite int8_rewrite() {
  weight_rewrite r;
  r.what = "int8 weights";
  r.rows_per_task = 64;
  r.bytes = [](const weight& w) { return w.cols % q8_block == 0 && !is_block_quant(w.type) ? size_t(w.rows) * row_bytes(dtype::q8, w.cols) : 0; };
  r.fill = [](const weight& w, int r0, int r1, void* dst) { q8_quantize_rows(w.data, w.type, w.cols, r0, r1, dst); };
  r.retype = [](weight& w, void* dst) {
    w.data = dst;
    w.type = dtype::q8;
  };
  return r;
}

}  // namespace resident
