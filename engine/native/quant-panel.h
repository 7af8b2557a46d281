// What the block-quant prefill panels of both x86 levels share (kernels-quant-panel.cpp: AVX-512 VNNI, 32 rows;
// kernels-quant-panel-avx2.cpp: AVX2, 8 rows): the activation rows, a block's integers, the code lanes and the pass
// over row groups and tokens. Include inside a target context with AVX2 + F16C, after avx2-lanes.h and
// quant-simd.h: everything here has internal linkage (one copy per including file, compiled for its target).
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels.h"
#include "quant-formats.h"

namespace resident {
namespace {
namespace qpanel {

// Token t's activation row (quant::xp_row), panel_x_row_bytes(k) apart.
static_assert(quant::xp_row_bytes(4096) <= panel_x_row_bytes(4096) && quant::xp_row_bytes(256) <= panel_x_row_bytes(256), "panel rows");
using xa_row = quant::xp_row;
inline xa_row xa_at(const char* base, int k, int t) { return quant::xp_row_at(base + size_t(t) * panel_x_row_bytes(k), k); }

inline uint32_t pair16(int a, int b) { return uint32_t(uint16_t(int16_t(a))) | uint32_t(uint16_t(int16_t(b))) << 16; }

// Per block: integer scale units (q4_k / q5_k: 8 sub-blocks of 32; q6_k: 16 groups of 16) and offset pairs
// (q4_k / q5_k: the mins (m_2p, m_2p+1); q6_k: (32·sc_2p, 32·sc_2p+1)); none for q8_0 / q4_0.
template <dtype T>
constexpr int scale_units = T == dtype::q6_k ? 16 : T == dtype::q4_k || T == dtype::q5_k ? 8 : 0;
template <dtype T>
constexpr int offset_pairs = scale_units<T> / 2;

// One block's integers into row i of a panel's per-block arrays (stride: the panel's rows): its f32 factors d, dmin,
// the unit scales S[u · stride] = pack(sc_u) and the offset pairs M[c · stride]; zero for blk == nullptr (a row past
// the panel's last).
template <dtype T, typename Pack>
inline void block_ints_store(const char* blk, float* d, float* dmin, uint32_t* S, uint32_t* M, int stride, Pack pack) {
  *d = *dmin = 0;
  if (!blk) {
    for (int u = 0; u < scale_units<T>; u++) S[u * stride] = 0;
    for (int c = 0; c < offset_pairs<T>; c++) M[c * stride] = 0;
    return;
  }
  if constexpr (T == dtype::q8_0 || T == dtype::q4_0) {
    *d = qsimd::half_f16c()(static_cast<const quant::block_q8_0*>(static_cast<const void*>(blk))->d);  // d: the first field of both
  } else if constexpr (T == dtype::q6_k) {
    const quant::block_q6_k* q = static_cast<const quant::block_q6_k*>(static_cast<const void*>(blk));
    *d = qsimd::half_f16c()(q->d);
    for (int g = 0; g < 16; g++) S[g * stride] = pack(q->scales[g]);
    for (int c = 0; c < 8; c++) M[c * stride] = pair16(32 * q->scales[2 * c], 32 * q->scales[2 * c + 1]);
  } else {  // q4_k / q5_k: d, dmin and scales at the same offsets
    const quant::block_q4_k* q = static_cast<const quant::block_q4_k*>(static_cast<const void*>(blk));
    *d = qsimd::half_f16c()(q->d), *dmin = qsimd::half_f16c()(q->dmin);
    int sc, m[8];
    for (int j = 0; j < 8; j++) {
      quant::k4_scale_min(q->scales, j, &sc, &m[j]);
      S[j * stride] = pack(sc);
    }
    for (int c = 0; c < 4; c++) M[c * stride] = pair16(m[2 * c], m[2 * c + 1]);
  }
}

// The code lanes of block b of rows [row0, row0 + nrows) (zero codes beyond): P[s][Rows] for the block's E / 4
// steps s, a lane = values 4s .. 4s + 3 of a row as unsigned bytes (q8_0: w + 128), 8 rows per 8 × 8 transpose.
template <dtype T, int Rows>
void codes_build(const char* wb, size_t rb, int row0, int nrows, int b, uint32_t* P) {
  constexpr int E = block_elems(T);
  for (int j0 = 0; j0 < Rows; j0 += 8)
    for (int j = 0; j < E / 32; j++) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) {
        __m256i u = _mm256_setzero_si256();
        if (j0 + i < nrows) u = qsimd::codes32<T>(wb + size_t(row0 + j0 + i) * rb + size_t(b) * block_bytes(T), j);
        if constexpr (T == dtype::q8_0) u = _mm256_xor_si256(u, _mm256_set1_epi8(char(0x80)));
        r[i] = _mm256_castsi256_ps(u);
      }
      transpose8(r);
      for (int c = 0; c < 8; c++) _mm256_storeu_ps(reinterpret_cast<float*>(P + (size_t(b) * E / 4 + 8 * j + c) * Rows + j0), r[c]);
    }
}

// A panel of Rows rows in scratch: P[k / 4][Rows] code lanes; per block b: S[b][unit][Rows] the unit scales as the
// level packs them, D[b][Rows] = d, DM[b][Rows] = dmin, M[b][pair][Rows] the offset pairs.
struct panel {
  uint32_t* P;
  uint32_t* S;
  float* D;
  float* DM;
  uint32_t* M;
};
template <dtype T, int Rows>
panel panel_at(float* scratch, int k) {
  const size_t nb = size_t(k / block_elems(T));
  panel p;
  p.P = reinterpret_cast<uint32_t*>(scratch);
  p.S = p.P + size_t(k) / 4 * Rows;
  p.D = reinterpret_cast<float*>(p.S + nb * scale_units<T> * Rows);
  p.DM = p.D + nb * Rows;
  p.M = reinterpret_cast<uint32_t*>(p.DM + nb * Rows);
  return p;
}

// Rows [row0, row0 + nrows) of w into the panel (rows beyond nrows: zero codes and scales); S = pack(sc).
template <dtype T, int Rows, typename Pack>
void panel_build(const void* w, int k, int row0, int nrows, const panel& p, Pack pack) {
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  for (int b = 0; b < k / block_elems(T); b++) {
    codes_build<T, Rows>(wb, rb, row0, nrows, b, p.P);
    for (int i = 0; i < Rows; i++)
      block_ints_store<T>(i < nrows ? wb + size_t(row0 + i) * rb + size_t(b) * block_bytes(T) : nullptr, p.D + size_t(b) * Rows + i,
                          p.DM + size_t(b) * Rows + i, p.S + size_t(b) * scale_units<T> * Rows + i,
                          p.M + size_t(b) * offset_pairs<T> * Rows + i, Rows, pack);
  }
}

// The last nt < NT tokens: kernel(std::integral_constant<int, nt>, xr, y, nrows).
template <int NT, typename Kernel>
inline void run_tail(int nt, Kernel& kernel, const xa_row* xr, float* y, int nrows) {
  if constexpr (NT > 0) {
    if (nt != NT) return run_tail<NT - 1>(nt, kernel, xr, y, nrows);
    kernel(std::integral_constant<int, NT>{}, xr, y, nrows);
  }
}

// Rows [r0, r1) of y[t * ldy + r] for n tokens, Rows at a time: build(row0, nrows) makes their panel, then
// kernel(std::integral_constant<int, nt>, xr, y, nrows) runs nt <= NT tokens on it (y: the first token's row).
template <int Rows, int NT, typename Build, typename Kernel>
void panel_matmul(const void* xq, int n, int k, int r0, int r1, float* y, int ldy, Build build, Kernel kernel) {
  const char* xb = static_cast<const char*>(xq);
  xa_row xr[NT];
  for (int rb = r0; rb < r1; rb += Rows) {
    const int nrows = std::min(Rows, r1 - rb);
    build(rb, nrows);
    int t = 0;
    for (; t + NT <= n; t += NT) {
      for (int i = 0; i < NT; i++) xr[i] = xa_at(xb, k, t + i);
      kernel(std::integral_constant<int, NT>{}, xr, y + size_t(t) * ldy + rb, nrows);
    }
    if (t < n) {
      for (int i = 0; t + i < n; i++) xr[i] = xa_at(xb, k, t + i);
      run_tail<NT - 1>(n - t, kernel, xr, y + size_t(t) * ldy + rb, nrows);
    }
  }
}

}  // namespace qpanel
}  // namespace
}  // namespace resident
#endif
