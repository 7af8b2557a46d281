// Quantizers from f32 to the GGUF block types (layouts in quant-formats.h), for writing quantized test models.
// Simple round-to-nearest rules, no importance weighting (llama.cpp searches scales; these files only need to be
// valid and close): q8_0 d = max|x| / 127; q4_0 d = x_maxabs / −8 (signed, as ggml), q = x / d + 8 in [0, 15];
// q4_k / q5_k per 32 values scale = (max − min') / (2^bits − 1), min' = min(0, min x), the 8 scales and mins
// quantized to 6 bits against d = max scale / 63, dmin = max min / 63; q6_k per 16 values s = max|x| / 31,
// 8-bit scales against d = max|s| / 127, q in [−32, 31].
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "quant-formats.h"

namespace resident {
namespace {

using namespace quant;

inline int nearest(float v) { return int(std::nearbyint(v)); }

void q8_0_block(const float* x, block_q8_0* b) {
  float amax = 0;
  for (int i = 0; i < 32; i++) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127, id = d > 0 ? 1 / d : 0;
  b->d = f32_to_f16(d);
  for (int i = 0; i < 32; i++) b->qs[i] = int8_t(std::clamp(nearest(x[i] * id), -127, 127));
}

void q4_0_block(const float* x, block_q4_0* b) {
  float amax = 0, max = 0;
  for (int i = 0; i < 32; i++)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
  const float d = max / -8, id = d != 0 ? 1 / d : 0;
  b->d = f32_to_f16(d);
  for (int l = 0; l < 16; l++) {
    const int a = std::clamp(int(std::floor(x[l] * id + 8.5f)), 0, 15), c = std::clamp(int(std::floor(x[l + 16] * id + 8.5f)), 0, 15);
    b->qs[l] = uint8_t(a | c << 4);
  }
}

// Packs the 8 6-bit scales and mins of q4_k / q5_k (the inverse of k4_scale_min).
void pack_k4_scales(const int* sc, const int* m, uint8_t* q) {
  std::fill(q, q + 12, uint8_t(0));
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      q[j] = uint8_t(sc[j]), q[j + 4] = uint8_t(m[j]);
    } else {
      q[j + 4] = uint8_t((sc[j] & 0xF) | (m[j] & 0xF) << 4);
      q[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      q[j] |= uint8_t((m[j] >> 4) << 6);
    }
  }
}

// q4_k (bits 4) or q5_k (bits 5): codes[256] in [0, 2^bits), header d, dmin, packed scales.
void k_block(const float* x, int bits, uint16_t* d16, uint16_t* dmin16, uint8_t* scales, uint8_t* codes) {
  const int top = (1 << bits) - 1;
  float scale[8], min[8], smax = 0, mmax = 0;
  for (int j = 0; j < 8; j++) {
    float lo = 0, hi = -INFINITY;
    for (int l = 0; l < 32; l++) lo = std::min(lo, x[32 * j + l]), hi = std::max(hi, x[32 * j + l]);
    scale[j] = (hi - lo) / float(top), min[j] = -lo;
    smax = std::max(smax, scale[j]), mmax = std::max(mmax, min[j]);
  }
  const float d = f16_to_f32(f32_to_f16(smax / 63)), dmin = f16_to_f32(f32_to_f16(mmax / 63));
  *d16 = f32_to_f16(smax / 63), *dmin16 = f32_to_f16(mmax / 63);
  int sc[8], m[8];
  for (int j = 0; j < 8; j++) {
    sc[j] = d > 0 ? std::clamp(nearest(scale[j] / d), 0, 63) : 0;
    m[j] = dmin > 0 ? std::clamp(nearest(min[j] / dmin), 0, 63) : 0;
    const float s = d * float(sc[j]), mm = dmin * float(m[j]);
    for (int l = 0; l < 32; l++) codes[32 * j + l] = uint8_t(s > 0 ? std::clamp(nearest((x[32 * j + l] + mm) / s), 0, top) : 0);
  }
  pack_k4_scales(sc, m, scales);
}

void q4_k_block(const float* x, block_q4_k* b) {
  uint8_t u[256];
  k_block(x, 4, &b->d, &b->dmin, b->scales, u);
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) b->qs[32 * c + l] = uint8_t(u[64 * c + l] | u[64 * c + 32 + l] << 4);
}

void q5_k_block(const float* x, block_q5_k* b) {
  uint8_t u[256];
  k_block(x, 5, &b->d, &b->dmin, b->scales, u);
  std::fill(b->qh, b->qh + 32, uint8_t(0));
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) {
      const uint8_t a = u[64 * c + l], h = u[64 * c + 32 + l];
      b->qs[32 * c + l] = uint8_t((a & 0xF) | (h & 0xF) << 4);
      b->qh[l] |= uint8_t(((a >> 4) << (2 * c)) | ((h >> 4) << (2 * c + 1)));
    }
}

void q6_k_block(const float* x, block_q6_k* b) {
  float s[16], smax = 0;
  for (int g = 0; g < 16; g++) {
    float amax = 0;
    for (int l = 0; l < 16; l++) amax = std::max(amax, std::fabs(x[16 * g + l]));
    s[g] = amax / 31, smax = std::max(smax, s[g]);
  }
  const float d = f16_to_f32(f32_to_f16(smax / 127));
  b->d = f32_to_f16(smax / 127);
  uint8_t u[256];
  for (int g = 0; g < 16; g++) {
    b->scales[g] = int8_t(d > 0 ? std::clamp(nearest(s[g] / d), -128, 127) : 0);
    const float sg = d * float(b->scales[g]);
    for (int l = 0; l < 16; l++) u[16 * g + l] = uint8_t((sg > 0 ? std::clamp(nearest(x[16 * g + l] / sg), -32, 31) : 0) + 32);
  }
  std::fill(b->qh, b->qh + 64, uint8_t(0));
  for (int h = 0; h < 2; h++)
    for (int p = 0; p < 4; p++)
      for (int l = 0; l < 32; l++) {
        const uint8_t v = u[128 * h + 32 * p + l];
        uint8_t& ql = b->ql[64 * h + 32 * (p & 1) + l];
        ql = p >= 2 ? uint8_t((ql & 0xF) | (v & 0xF) << 4) : uint8_t(v & 0xF);
        b->qh[32 * h + l] |= uint8_t((v >> 4) << (2 * p));
      }
}

}  // namespace

bool quantize_row(const float* x, int k, dtype t, void* out) {
  if (!is_block_quant(t) || k % block_elems(t) != 0) return false;
  char* o = static_cast<char*>(out);
  for (int b = 0; b < k / block_elems(t); b++) {
    const float* xb = x + size_t(b) * block_elems(t);
    void* ob = o + size_t(b) * block_bytes(t);
    switch (t) {
      case dtype::q8_0: q8_0_block(xb, static_cast<block_q8_0*>(ob)); break;
      case dtype::q4_0: q4_0_block(xb, static_cast<block_q4_0*>(ob)); break;
      case dtype::q4_k: q4_k_block(xb, static_cast<block_q4_k*>(ob)); break;
      case dtype::q5_k: q5_k_block(xb, static_cast<block_q5_k*>(ob)); break;
      case dtype::q6_k: q6_k_block(xb, static_cast<block_q6_k*>(ob)); break;
      default: return false;
    }
  }
  return true;
}

}  // namespace resident
