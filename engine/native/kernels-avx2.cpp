// AVX2 + FMA + F16C kernels, compiled for that target only (the pragma below covers this file alone) and
// chosen at run time (see kernels.h).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kernels.h"

// After the includes, so inline functions of shared headers are not emitted with AVX2 code.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "avx2-lanes.h"  // inside the target: compiled for AVX2 in this file

namespace resident {
namespace {

constexpr int panel_min_tokens = 17;  // n at or above which matmul uses the packed-panel path (row tiles measured faster up to 24)

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// R rows × NT tokens tile: y[t][r] = x[t] · w[r]. W read as dtype T (packed f32 scratch when T == f32).
template <dtype T, int R, int NT>
inline void tile(const float* x, int k, const void* const* wr, float* y, int ldy) {
  __m256 acc[R][NT];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 xv[NT];
    for (int t = 0; t < NT; t++) xv[t] = _mm256_loadu_ps(x + size_t(t) * k + i);
    for (int r = 0; r < R; r++) {
      __m256 wv = load8<T>(wr[r], size_t(i));
      for (int t = 0; t < NT; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < NT; t++) {
      float s = hsum(acc[r][t]);
      for (int j = i; j < k; j++) s += load1<T>(wr[r], size_t(j)) * x[size_t(t) * k + j];
      y[size_t(t) * ldy + r] = s;
    }
}

template <dtype T, int R>
inline void tile_tokens(const float* x, int n, int k, const void* const* wr, float* y, int ldy) {
  int t = 0;
  for (; t + 3 <= n; t += 3) tile<T, R, 3>(x + size_t(t) * k, k, wr, y + size_t(t) * ldy, ldy);
  if (n - t == 2) tile<T, R, 2>(x + size_t(t) * k, k, wr, y + size_t(t) * ldy, ldy);
  else if (n - t == 1) tile<T, R, 1>(x + size_t(t) * k, k, wr, y + size_t(t) * ldy, ldy);
}

void to_f32(const void* src, dtype t, float* dst, size_t n);

// ---- Packed-panel path (many tokens): W rows packed k-major into P[kc][16] (f32), then a 6×16
// outer-product microkernel: per k, 2 panel loads + 6 broadcasts of x feed 12 FMAs; accumulators
// stay in registers over the whole K block.

// yr[0..nrows) (+)= (v0, v1); takes the accumulators by value so they stay in registers in the kernel.
inline void store_panel_row(float* yr, __m256 v0, __m256 v1, bool accumulate, int nrows) {
  if (nrows == 16) {
    if (accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(yr));
      v1 = _mm256_add_ps(v1, _mm256_loadu_ps(yr + 8));
    }
    _mm256_storeu_ps(yr, v0);
    _mm256_storeu_ps(yr + 8, v1);
    return;
  }
  alignas(32) float buf[16];
  _mm256_store_ps(buf, v0);
  _mm256_store_ps(buf + 8, v1);
  for (int j = 0; j < nrows; j++) yr[j] = accumulate ? yr[j] + buf[j] : buf[j];
}

// y[t][0..nrows) (+)= x[t][0..kc) · P, t < NT; x rows have stride ldx, y rows stride ldy.
template <int NT>
inline void panel_kernel(const float* x, int ldx, const float* P, int kc, float* y, int ldy, bool accumulate, int nrows) {
  __m256 c[NT][2];
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) c[t][0] = c[t][1] = _mm256_setzero_ps();
  for (int kk = 0; kk < kc; kk++) {
    const __m256 b0 = _mm256_loadu_ps(P + size_t(kk) * 16), b1 = _mm256_loadu_ps(P + size_t(kk) * 16 + 8);
#pragma GCC unroll 8
    for (int t = 0; t < NT; t++) {
      const __m256 a = _mm256_broadcast_ss(x + size_t(t) * ldx + kk);
      c[t][0] = _mm256_fmadd_ps(a, b0, c[t][0]);
      c[t][1] = _mm256_fmadd_ps(a, b1, c[t][1]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; t++) store_panel_row(y + size_t(t) * ldy, c[t][0], c[t][1], accumulate, nrows);
}

// Prefetches the W block pack_panel reads next: rows [rb, rb + nrows) × columns [k0, k0 + kc). Its rows lie a row
// apart (a page or more for wide k), where the hardware prefetchers do not follow: unprefetched, packing stalled on
// memory for about a third of the prefill's matmul time.
template <dtype T>
inline void prefetch_block(const void* w, int k, int rb, int nrows, int k0, int kc) {
  const size_t rbytes = row_bytes(T, k), b0 = row_bytes(T, k0), b1 = row_bytes(T, k0 + kc);
  const char* wb = static_cast<const char*>(w);
  for (int r = rb; r < rb + nrows; r++)
    for (size_t b = b0; b < b1; b += 64) _mm_prefetch(wb + size_t(r) * rbytes + b, _MM_HINT_T0);
}

template <dtype T>
void matmul_panel(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* P) {
  for (int rb = r0; rb < r1; rb += matmul_panel_rows) {
    const int nrows = std::min(matmul_panel_rows, r1 - rb);
    for (int k0 = 0; k0 < k; k0 += matmul_panel_k) {
      const int kc = std::min(matmul_panel_k, k - k0);
      pack_panel<T, matmul_panel_rows>(w, k, rb, nrows, k0, kc, P);
      if (k0 + kc < k) prefetch_block<T>(w, k, rb, nrows, k0 + kc, std::min(matmul_panel_k, k - k0 - kc));  // while the kernels run
      else if (rb + nrows < r1) prefetch_block<T>(w, k, rb + nrows, std::min(matmul_panel_rows, r1 - rb - nrows), 0, std::min(matmul_panel_k, k));
      const bool acc = k0 > 0;
      int t = 0;
      for (; t + 6 <= n; t += 6) panel_kernel<6>(x + size_t(t) * k + k0, k, P, kc, y + size_t(t) * ldy + rb, ldy, acc, nrows);
      const float* xt = x + size_t(t) * k + k0;
      float* yt = y + size_t(t) * ldy + rb;
      switch (n - t) {
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
  if (n >= panel_min_tokens) return matmul_panel<T>(x, n, k, w, r0, r1, y, ldy, scratch);
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  const bool packed = T != dtype::f32 && n > 3;  // convert W rows once, reuse for every token
  int r = r0;
  for (; r + matmul_row_block <= r1; r += matmul_row_block) {
    const void* wr[matmul_row_block];
    for (int j = 0; j < matmul_row_block; j++) {
      const void* row = wb + size_t(r + j) * rb;
      if (packed) {
        to_f32(row, T, scratch + size_t(j) * k, size_t(k));
        wr[j] = scratch + size_t(j) * k;
      } else {
        wr[j] = row;
      }
    }
    if (packed) tile_tokens<dtype::f32, matmul_row_block>(x, n, k, wr, y + r, ldy);
    else tile_tokens<T, matmul_row_block>(x, n, k, wr, y + r, ldy);
  }
  for (; r < r1; r++) {
    const void* wr[1] = {wb + size_t(r) * rb};
    tile_tokens<T, 1>(x, n, k, wr, y + r, ldy);
  }
}

void matmul(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  if (is_block_quant(wt)) return quant_matmul_avx2(x, n, k, w, wt, r0, r1, y, ldy, scratch);
  RESIDENT_DTYPE_SWITCH(wt, matmul_t, x, n, k, w, r0, r1, y, ldy, scratch)
}

template <dtype T>
void to_f32_t(const void* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8<T>(src, i));
  for (; i < n; i++) dst[i] = load1<T>(src, i);
}

void to_f32(const void* src, dtype t, float* dst, size_t n) {
  if (t == dtype::f32) return (void)std::memcpy(dst, src, n * 4);
  if (is_block_quant(t)) return quant_to_f32(src, t, dst, n);  // embedding rows: not a hot path
  RESIDENT_DTYPE_SWITCH(t, to_f32_t, src, dst, n)
}

void from_f32(const float* src, dtype t, void* dst, size_t n) {
  if (t == dtype::f16) {
    uint16_t* d = static_cast<uint16_t*>(dst);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) d[i] = f32_to_f16(src[i]);
    return;
  }
  kernels_portable().from_f32(src, t, dst, n);
}

float dot(const float* a, const float* b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

void axpy(float* y, float a, const float* x, int n) {
  __m256 av = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

void scale(float* y, float a, int n) {
  __m256 av = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] *= a;
}

float sum_sq(const float* x, int n) { return dot(x, x, n); }

void scale_mul(float* y, const float* x, const float* w, float s, int n) {
  __m256 sv = _mm256_set1_ps(s);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
  for (; i < n; i++) y[i] = x[i] * s * w[i];
}

void silu_mul(float* g, const float* u, int n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv));
    _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

float exp_sum(float* x, int n, float sub) {
  __m256 sv = _mm256_set1_ps(sub), acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float s = hsum(acc);
  for (; i < n; i++) { x[i] = std::exp(x[i] - sub); s += x[i]; }
  return s;
}

float keep_sum(const float* x, int n, float cut, float* out) {
  const __m256 c = _mm256_set1_ps(cut);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; j++) {
      const __m256 v = _mm256_loadu_ps(x + i + 8 * j);
      const __m256 w = _mm256_and_ps(v, _mm256_cmp_ps(v, c, _CMP_GE_OQ));
      if (out) _mm256_storeu_ps(out + i + 8 * j, w);
      acc[j] = _mm256_add_ps(acc[j], w);
    }
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; i++) {
    const float w = x[i] >= cut ? x[i] : 0.0f;
    if (out) out[i] = w;
    s += w;
  }
  return s;
}

float max(const float* x, int n) {
  __m256 m0 = _mm256_set1_ps(x[0]), m1 = m0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
  m0 = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  float m = _mm_cvtss_f32(h);
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

constexpr int pv_prefetch_rows = 2;  // V rows (positions) prefetched ahead of the first dims block

// R rows × 8·D dims [d0, d0 + 8·D) block of P·V over positions [i0, i1): the accumulators, acc[r][d] (lda apart),
// stay in registers over the positions; each position's 8·D values of V are loaded once for the R rows.
template <dtype T, int R, int D>
inline void pv_block(const float* p, int ldp, int i0, int i1, const void* v, int hd, int d0, float* acc_mem, int lda) {
  __m256 acc[R][D];  // fully unrolled loops keep it in registers (else GCC stores it every iteration)
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int j = 0; j < D; j++) acc[r][j] = _mm256_loadu_ps(acc_mem + size_t(r) * lda + 8 * j);
  const size_t row = size_t(hd) * dtype_size(T);
  for (int i = i0; i < i1; i++) {
    if (d0 == 0)  // whole V rows ahead: a block reads one line of each row, a stride the hardware prefetchers miss
      for (size_t o = 0; o < row; o += 64) _mm_prefetch(static_cast<const char*>(v) + (size_t(i) + pv_prefetch_rows) * row + o, _MM_HINT_T0);
    __m256 vv[D];
#pragma GCC unroll 8
    for (int j = 0; j < D; j++) vv[j] = load8<T>(v, size_t(i) * hd + d0 + 8 * j);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m256 pr = _mm256_broadcast_ss(p + size_t(r) * ldp + i);
#pragma GCC unroll 8
      for (int j = 0; j < D; j++) acc[r][j] = _mm256_fmadd_ps(pr, vv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int j = 0; j < D; j++) _mm256_storeu_ps(acc_mem + size_t(r) * lda + 8 * j, acc[r][j]);
}

constexpr int pv_chunk = 32;         // positions whose V rows every dims block reads while they are in L1
constexpr int pv_slice_dims = 256;   // dims whose sums one pass keeps in acc

// Rows [0, R) over dims [0, hd16): blocks as wide as keep 8 independent accumulators (decode rows are few), all
// blocks of a dims slice over a chunk of positions before the next chunk (V streams from memory once, not once per
// block). Every (row, dim) sums over i in order from 0 and is then added to out, whatever R, D and the chunks: the
// result does not depend on the blocking.
template <dtype T, int R>
inline void pv_rows(const float* p, int ldp, int n, const void* v, int hd, int hd16, float* out, int ldo) {
  constexpr int D = R == 1 ? 8 : R == 2 ? 4 : 2;
  alignas(32) float acc[R * pv_slice_dims];  // acc[r][d − s0]
  for (int s0 = 0; s0 < hd16; s0 += pv_slice_dims) {
    const int s1 = std::min(hd16, s0 + pv_slice_dims);
    std::fill(acc, acc + R * pv_slice_dims, 0.0f);
    for (int i0 = 0; i0 < n; i0 += pv_chunk) {
      const int i1 = std::min(n, i0 + pv_chunk);
      int d0 = s0;
      for (; d0 + 8 * D <= s1; d0 += 8 * D) pv_block<T, R, D>(p, ldp, i0, i1, v, hd, d0, acc + (d0 - s0), pv_slice_dims);
      for (; d0 < s1; d0 += 16) pv_block<T, R, 2>(p, ldp, i0, i1, v, hd, d0, acc + (d0 - s0), pv_slice_dims);
    }
    for (int r = 0; r < R; r++)
      for (int d = s0; d < s1; d += 8) {
        float* o = out + size_t(r) * ldo + d;
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_loadu_ps(acc + size_t(r) * pv_slice_dims + (d - s0))));
      }
  }
}

template <dtype T>
void attn_pv_t(const float* p, int rows, int ldp, int n, const void* v, int hd, float* out, int ldo) {
  const int hd16 = hd / 16 * 16;
  int r = 0;
  for (; r + 4 <= rows; r += 4) pv_rows<T, 4>(p + size_t(r) * ldp, ldp, n, v, hd, hd16, out + size_t(r) * ldo, ldo);
  const float* pr = p + size_t(r) * ldp;
  float* orow = out + size_t(r) * ldo;
  switch (rows - r) {  // the GQA group's remaining rows share each V load
    case 3: pv_rows<T, 3>(pr, ldp, n, v, hd, hd16, orow, ldo); break;
    case 2: pv_rows<T, 2>(pr, ldp, n, v, hd, hd16, orow, ldo); break;
    case 1: pv_rows<T, 1>(pr, ldp, n, v, hd, hd16, orow, ldo); break;
    default: break;
  }
  attn_pv_tail<T>(p, rows, ldp, n, v, hd, hd16, out, ldo);
}

void attn_pv(const float* p, int rows, int ldp, int n, const void* v, dtype vt, int hd, float* out, int ldo) {
  RESIDENT_KV_DTYPE_SWITCH(vt, attn_pv_t, p, rows, ldp, n, v, hd, out, ldo)  // KV is never q8
}

}  // namespace

const kernels* kernels_avx2() {
  static const kernels k{"avx2", matmul_panel_rows, matmul, to_f32, from_f32, dot, axpy, scale, sum_sq, scale_mul, silu_mul, exp_sum, max, keep_sum, attn_pv, nullptr, nullptr, nullptr, nullptr,
                         avx2::quant_panel_x, avx2::quant_matmul_panel, avx2::quant_panel_types};
  return &k;
}

}  // namespace resident

#pragma GCC pop_options

#else
#include "kernels.h"
namespace resident {
const kernels* kernels_avx2() { return nullptr; }
}  // namespace resident
#endif
