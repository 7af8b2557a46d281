// Portable scalar kernels: the reference path on every CPU, and the fallback without AVX2/FMA/F16C.
#include <cmath>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "kernels.h"

namespace resident {

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalize
      int e = -1;
      do { man <<= 1; e++; } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {  // round to nearest even, overflow to inf
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  int32_t exp = int32_t((u >> 23) & 0xff) - 127 + 15;
  uint32_t man = u & 0x7fffff;
  if (((u >> 23) & 0xff) == 0xff) return uint16_t(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return uint16_t(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return uint16_t(sign);
    man |= 0x800000;
    uint32_t shift = uint32_t(14 - exp), half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
    uint32_t r = man >> shift;
    if (rest > half || (rest == half && (r & 1))) r++;
    return uint16_t(sign | r);
  }
  uint32_t r = man >> 13, rest = man & 0x1fff;
  uint32_t h = sign | uint32_t(exp) << 10 | r;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) h++;
  return uint16_t(h);
}

static void to_f32(const void* src, dtype t, float* dst, size_t n) {
  if (t == dtype::f32) { std::memcpy(dst, src, n * 4); return; }
  if (t == dtype::q8) { for (size_t i = 0; i < n; i++) dst[i] = q8_value(src, i); return; }
  if (is_block_quant(t)) return quant_to_f32(src, t, dst, n);
  const uint16_t* s = static_cast<const uint16_t*>(src);
  if (t == dtype::bf16) for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
  else for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(s[i]);
}

static void from_f32(const float* src, dtype t, void* dst, size_t n) {
  if (t == dtype::f32) { std::memcpy(dst, src, n * 4); return; }
  uint16_t* d = static_cast<uint16_t*>(dst);
  if (t == dtype::bf16) for (size_t i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
  else for (size_t i = 0; i < n; i++) d[i] = f32_to_f16(src[i]);
}

static float dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void matmul(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy,
                   float* scratch) {
  if (is_block_quant(wt)) return quant_matmul_portable(x, n, k, w, wt, r0, r1, y, ldy, scratch);
  const size_t rb = row_bytes(wt, k);
  for (int r = r0; r < r1; r++) {
    to_f32(static_cast<const char*>(w) + size_t(r) * rb, wt, scratch, size_t(k));
    for (int t = 0; t < n; t++) y[size_t(t) * ldy + r] = dot(x + size_t(t) * k, scratch, k);
  }
}

static void axpy(float* y, float a, const float* x, int n) { for (int i = 0; i < n; i++) y[i] += a * x[i]; }
static void scale(float* y, float a, int n) { for (int i = 0; i < n; i++) y[i] *= a; }
static float sum_sq(const float* x, int n) { float s = 0; for (int i = 0; i < n; i++) s += x[i] * x[i]; return s; }
static void scale_mul(float* y, const float* x, const float* w, float s, int n) {
  for (int i = 0; i < n; i++) y[i] = x[i] * s * w[i];
}
static void silu_mul(float* g, const float* u, int n) {
  for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}
static float exp_sum(float* x, int n, float sub) {
  float s = 0;
  for (int i = 0; i < n; i++) { x[i] = std::exp(x[i] - sub); s += x[i]; }
  return s;
}

static float keep_sum(const float* x, int n, float cut, float* out) {
  float s = 0;
  for (int i = 0; i < n; i++) {
    const float w = x[i] >= cut ? x[i] : 0.0f;
    if (out) out[i] = w;
    s += w;
  }
  return s;
}

static float max(const float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static void attn_pv(const float* p, int rows, int ldp, int n, const void* v, dtype vt, int hd, float* out, int ldo) {
  const size_t es = dtype_size(vt);
  float vrow[512];
  for (int i = 0; i < n; i++) {
    for (int d0 = 0; d0 < hd; d0 += 512) {
      const int dn = hd - d0 < 512 ? hd - d0 : 512;
      to_f32(static_cast<const char*>(v) + (size_t(i) * hd + d0) * es, vt, vrow, size_t(dn));
      for (int r = 0; r < rows; r++) axpy(out + size_t(r) * ldo + d0, p[size_t(r) * ldp + i], vrow, dn);
    }
  }
}

const kernels& kernels_portable() {
  static const kernels k{"portable", 16, matmul, to_f32, from_f32, dot, axpy, scale, sum_sq, scale_mul, silu_mul, exp_sum, max, keep_sum, attn_pv, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0};
  return k;
}

bool cpu_has_avx2_fma_f16c() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return false;  // OS saves XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return b & (1u << 5);  // AVX2
#else
  return false;
#endif
}

int kernel_levels(const kernels* out[3]) {
  int n = 0;
  if (kernels_avx512() && cpu_has_avx512()) out[n++] = kernels_avx512();
  if (kernels_avx2() && cpu_has_avx2_fma_f16c()) out[n++] = kernels_avx2();
  out[n++] = &kernels_portable();
  return n;
}

const kernels* select_kernels(const char* max_level) {
  static const char* const order[] = {"avx512", "avx2", "portable"};
  int cap = 0;  // index into order of the highest level allowed
  if (max_level && *max_level && std::strcmp(max_level, "auto") != 0) {
    cap = -1;
    for (int i = 0; i < 3; i++)
      if (std::strcmp(max_level, order[i]) == 0) cap = i;
    if (cap < 0) return nullptr;
  }
  const kernels* levels[3];
  const int n = kernel_levels(levels);
  for (int i = 0; i < n; i++)
    for (int j = cap; j < 3; j++)
      if (std::strcmp(levels[i]->name, order[j]) == 0) return levels[i];
  return &kernels_portable();
}

}  // namespace resident
