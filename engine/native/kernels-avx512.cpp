// AVX-512 (F/BW/VL/DQ) + FMA + F16C kernels, compiled for that target only (the pragma below covers this
// file alone) and chosen at run time when CPUID and XCR0 report AVX-512 with OS-saved zmm state (kernels.h).
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "avx512-lanes.h"
#include "kernels.h"

// After the includes, so inline functions of shared headers are not emitted with AVX-512 code.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
// GCC 12 flags the deliberate _mm512_undefined_* of its own intrinsic headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "avx2-lanes.h"  // inside the target: the 8-lane helpers compiled for AVX-512 in this file

namespace resident {
namespace {

constexpr int panel_min_tokens = 17;  // n at or above which matmul uses the packed-panel path
constexpr int panel_cols = 32;        // output columns (weight rows) per packed panel: 2 zmm
constexpr int panel_tokens = 8;       // token rows of the microkernel: 16 accumulators + 2 panel loads (12 measured the same)
static_assert(matmul_panel_rows_max >= panel_cols, "scratch is sized for the widest panel");
static_assert(panel_min_tokens - 1 <= avx512::row_tile_max_tokens, "n below the panel path goes to the row tiles");
using namespace avx512;

// ---- Packed-panel path (n >= panel_min_tokens, prefill): W rows packed k-major into P[kc][32] (f32), then a
// 8×32 outer-product microkernel: per k, 2 panel loads + 8 broadcasts of x feed 16 FMAs; the 16
// accumulators stay in zmm registers over the whole K block (matmul.cpp's 64-token blocks split evenly).

// y[t][0..nrows) (+)= x[t][0..kc) · P, t < NT; x rows have stride ldx, y rows stride ldy.
// Columns >= nrows are never stored (masked), so y beyond the caller's row range stays untouched.
template <int NT>
inline void panel_kernel(const float* x, int ldx, const float* P, int kc, float* y, int ldy, bool accumulate, int nrows) {
  __m512 c[NT][2];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) c[t][0] = c[t][1] = _mm512_setzero_ps();
  for (int kk = 0; kk < kc; kk++) {
    const __m512 b0 = _mm512_loadu_ps(P + size_t(kk) * panel_cols), b1 = _mm512_loadu_ps(P + size_t(kk) * panel_cols + 16);
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const __m512 a = _mm512_set1_ps(x[size_t(t) * ldx + kk]);
      c[t][0] = _mm512_fmadd_ps(a, b0, c[t][0]);
      c[t][1] = _mm512_fmadd_ps(a, b1, c[t][1]);
    }
  }
  const __mmask16 m0 = tail_mask(std::min(nrows, 16)), m1 = tail_mask(std::max(nrows - 16, 0));
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) {
    float* yr = y + size_t(t) * ldy;
    __m512 v0 = c[t][0], v1 = c[t][1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, yr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, yr + 16));
    }
    _mm512_mask_storeu_ps(yr, m0, v0);
    _mm512_mask_storeu_ps(yr + 16, m1, v1);
  }
}

template <dtype T>
void matmul_panel(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* P) {
  for (int rb = r0; rb < r1; rb += panel_cols) {
    const int nrows = std::min(panel_cols, r1 - rb);
    for (int k0 = 0; k0 < k; k0 += matmul_panel_k) {
      const int kc = std::min(matmul_panel_k, k - k0);
      pack_panel<T, panel_cols>(w, k, rb, nrows, k0, kc, P);
      const bool acc = k0 > 0;
      int t = 0;
      for (; t + panel_tokens <= n; t += panel_tokens)
        panel_kernel<panel_tokens>(x + size_t(t) * k + k0, k, P, kc, y + size_t(t) * ldy + rb, ldy, acc, nrows);
      const float* xt = x + size_t(t) * k + k0;
      float* yt = y + size_t(t) * ldy + rb;
      switch (n - t) {
        case 7: panel_kernel<7>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 6: panel_kernel<6>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 5: panel_kernel<5>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 4: panel_kernel<4>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 3: panel_kernel<3>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 2: panel_kernel<2>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        case 1: panel_kernel<1>(xt, k, P, kc, yt, ldy, acc, nrows); break;
        default: break;
      }
    }
  }
}

template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  if (n >= panel_min_tokens) matmul_panel<T>(x, n, k, w, r0, r1, y, ldy, scratch);
  else matmul_rows(x, n, k, w, T, r0, r1, y, ldy, scratch);
}

void matmul(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  if (is_block_quant(wt)) return quant_matmul_avx512(x, n, k, w, wt, r0, r1, y, ldy, scratch);
  RESIDENT_DTYPE_SWITCH(wt, matmul_t, x, n, k, w, r0, r1, y, ldy, scratch)
}

// ---- Elementwise kernels: 16 lanes per step, the tail as one masked step.

template <dtype T>
void to_f32_t(const void* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load16<T>(src, i));
  if (i < n) {
    const __mmask16 m = tail_mask(int(n - i));
    _mm512_mask_storeu_ps(dst + i, m, load16_mask<T>(src, i, m));
  }
}

void to_f32(const void* src, dtype t, float* dst, size_t n) {
  if (t == dtype::f32) return (void)std::memcpy(dst, src, n * 4);
  if (t == dtype::q8 || is_block_quant(t)) return kernels_portable().to_f32(src, t, dst, n);  // weights only: never on a hot path
  RESIDENT_KV_DTYPE_SWITCH(t, to_f32_t, src, dst, n)
}

void from_f32(const float* src, dtype t, void* dst, size_t n) {
  if (t == dtype::f16) {
    uint16_t* d = static_cast<uint16_t*>(dst);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) d[i] = f32_to_f16(src[i]);
    return;
  }
  if (t == dtype::bf16) {  // f32_to_bf16 on 16 lanes: round to nearest even, NaN stays NaN (quiet bit set)
    uint16_t* d = static_cast<uint16_t*>(dst);
    const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff), abs = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000), quiet = _mm512_set1_epi32(0x40);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512i u = _mm512_loadu_si512(src + i), hi = _mm512_srli_epi32(u, 16);
      const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
      const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(hi, one))), 16);
      const __m512i v = _mm512_mask_or_epi32(r, nan, hi, quiet);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm512_cvtepi32_epi16(v));
    }
    for (; i < n; i++) d[i] = f32_to_bf16(src[i]);
    return;
  }
  std::memcpy(dst, src, n * 4);  // f32
}

float dot(const float* a, const float* b, int n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void axpy(float* y, float a, const float* x, int n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void scale(float* y, float a, int n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(av, _mm512_maskz_loadu_ps(m, y + i)));
  }
}

float sum_sq(const float* x, int n) { return dot(x, x, n); }

void scale_mul(float* y, const float* x, const float* w, float s, int n) {
  const __m512 sv = _mm512_set1_ps(s);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sv), _mm512_maskz_loadu_ps(m, w + i)));
  }
}

void silu_mul(float* g, const float* u, int n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv));
    _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

float exp_sum(float* x, int n, float sub) {
  const __m512 sv = _mm512_set1_ps(sub);
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(std::min(n - i, 16));
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sv)));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_add_ps(acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

float keep_sum(const float* x, int n, float cut, float* out) {
  const __m512 c = _mm512_set1_ps(cut);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const auto step = [&](int i, __mmask16 m, __m512& a) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 w = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, c, _CMP_GE_OQ), v);  // tail lanes load 0: adding 0
    if (out) _mm512_mask_storeu_ps(out + i, m, w);
    a = _mm512_add_ps(a, w);
  };
  int i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; j++) step(i + 16 * j, 0xFFFF, acc[j]);
  for (; i < n; i += 16) step(i, tail_mask(std::min(n - i, 16)), acc[0]);
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float max(const float* x, int n) {
  __m512 m = _mm512_set1_ps(x[0]);
  for (int i = 0; i < n; i += 16) m = _mm512_mask_max_ps(m, tail_mask(std::min(n - i, 16)), m, _mm512_maskz_loadu_ps(tail_mask(std::min(n - i, 16)), x + i));
  return _mm512_reduce_max_ps(m);
}

// R rows × 16·D dims block of P·V: accumulators stay in registers over all n positions; each position's
// 16·D values of V are loaded once for the R rows. Every (row, dim) sums over i in order from 0 and is then
// added to out, whatever R and D: the result does not depend on the blocking.
template <dtype T, int R, int D>
inline void pv_block(const float* p, int ldp, int n, const void* v, int hd, int d0, float* out, int ldo) {
  __m512 acc[R][D];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < D; j++) acc[r][j] = _mm512_setzero_ps();
  for (int i = 0; i < n; i++) {
    __m512 vi[D];
    for (int j = 0; j < D; j++) vi[j] = load16<T>(v, size_t(i) * hd + d0 + 16 * j);
    for (int r = 0; r < R; r++) {
      const __m512 pr = _mm512_set1_ps(p[size_t(r) * ldp + i]);
      for (int j = 0; j < D; j++) acc[r][j] = _mm512_fmadd_ps(pr, vi[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < D; j++) {
      float* o = out + size_t(r) * ldo + d0 + 16 * j;
      _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[r][j]));
    }
}

// Dims [d0, d0 + 16·D) of all rows, R_max = 16 / D rows per block (16 accumulators).
template <dtype T, int D>
void pv_slice(const float* p, int rows, int ldp, int n, const void* v, int hd, int d0, float* out, int ldo) {
  constexpr int R = 16 / D > 4 ? 4 : 16 / D;
  int r = 0;
  for (; r + R <= rows; r += R) pv_block<T, R, D>(p + size_t(r) * ldp, ldp, n, v, hd, d0, out + size_t(r) * ldo, ldo);
  const float* pr = p + size_t(r) * ldp;
  float* orow = out + size_t(r) * ldo;
  switch (rows - r) {  // the GQA group's remaining rows share each V load
    case 3: pv_block<T, 3, D>(pr, ldp, n, v, hd, d0, orow, ldo); break;
    case 2: pv_block<T, 2, D>(pr, ldp, n, v, hd, d0, orow, ldo); break;
    case 1: pv_block<T, 1, D>(pr, ldp, n, v, hd, d0, orow, ldo); break;
    default: break;
  }
}

// Few rows (decode: one token's GQA group) take whole 128-dim slices, so each V row is one sequential read;
// more rows take 64-dim slices of 4 rows (the V tile stays in L1 across row blocks).
template <dtype T>
void attn_pv_t(const float* p, int rows, int ldp, int n, const void* v, int hd, float* out, int ldo) {
  int d0 = 0;
  if (rows <= 2)
    for (; d0 + 128 <= hd; d0 += 128) pv_slice<T, 8>(p, rows, ldp, n, v, hd, d0, out, ldo);
  for (; d0 + 64 <= hd; d0 += 64) pv_slice<T, 4>(p, rows, ldp, n, v, hd, d0, out, ldo);
  for (; d0 + 32 <= hd; d0 += 32) pv_slice<T, 2>(p, rows, ldp, n, v, hd, d0, out, ldo);
  attn_pv_tail<T>(p, rows, ldp, n, v, hd, d0, out, ldo);
}

void attn_pv(const float* p, int rows, int ldp, int n, const void* v, dtype vt, int hd, float* out, int ldo) {
  RESIDENT_KV_DTYPE_SWITCH(vt, attn_pv_t, p, rows, ldp, n, v, hd, out, ldo)  // KV is never q8
}

}  // namespace

const kernels* kernels_avx512() {
  static const kernels k{"avx512", panel_cols, matmul, to_f32, from_f32, dot, axpy, scale, sum_sq, scale_mul, silu_mul, exp_sum, max, keep_sum, attn_pv,
                         cpu_has_avx512_bf16() ? avx512::matmul_bf16 : nullptr, cpu_has_avx512_bf16() ? avx512::pack_bf16 : nullptr,
                         cpu_has_avx512_bf16() ? avx512::matmul_bf16_packed : nullptr, cpu_has_avx512_bf16() ? avx512::attn_pv_bf16 : nullptr,
                         // block-quant prefill: the AVX2 level's activation rows; vpdpbusd panels with VNNI, else the AVX2 level's
                         avx2::quant_panel_x, cpu_has_avx512_vnni() ? avx512::quant_matmul_panel : avx2::quant_matmul_panel,
                         cpu_has_avx512_vnni() ? block_quant_types : avx2::quant_panel_types};
  return &k;
}

}  // namespace resident
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
// AVX-512F/DQ/BW/VL (CPUID.7.0:EBX bits 16, 17, 30, 31) and XCR0 opmask + zmm state (bits 5-7) saved
// by the OS, on top of the AVX2 level (whose check covers FMA, F16C, OSXSAVE and XMM/YMM state).
bool cpu_has_avx512() {
  if (!cpu_has_avx2_fma_f16c()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
  if ((b & need) != need) return false;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xe6) == 0xe6;
}
}  // namespace resident

#else
#include "kernels.h"
namespace resident {
const kernels* kernels_avx512() { return nullptr; }
bool cpu_has_avx512() { return false; }
}  // namespace resident
#endif
