// AVX-512 matmul for block-quant weights (quant-formats.h). q8_0 / q4_0 (VNNI): vpdpbusd multiplies 64 weight codes
// (u8) by 64 activation bytes (s8) into 16 int32 lanes of 4 values each, scaled per lane by d_w · d_x in f32.
// k-quants: llama.cpp's integers, as the AVX2 kernel, 64 values per instruction (vpmaddubsw, vpmaddwd by the group
// scales).
// Without VNNI (or with k % 64 != 0 for the 32-blocks) the AVX2 kernel runs.
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "quant-formats.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "quant-simd.h"

namespace resident {
namespace {

using quant::x_row;

// q8_0 / q4_0 scales of one 64-value unit (two 32-blocks) as 16 lanes: lanes 0..1 the first block's d, 2..3 the
// second's (the lanes of 16 codes each that _mm512_permutexvar_ps picks per 64 codes).
template <dtype T>
inline __m512 unit_scales(const char* blk) {
  constexpr size_t B = block_bytes(T);
  uint16_t h0, h1;
  std::memcpy(&h0, blk, 2), std::memcpy(&h1, blk + B, 2);
  return _mm512_mask_blend_ps(0x000C, _mm512_set1_ps(_cvtsh_ss(h0)), _mm512_set1_ps(_cvtsh_ss(h1)));
}

// q8_0 / q4_0, y[t * ldy] = row wr · x_t for NT tokens: per 64 codes one vpdpbusd (exact int32 sums of 4), scaled by
// d_w · d_x per lane in f32.
template <dtype T, int NT>
void row_tile(const char* wr, int k, const x_row* xr, float* y, int ldy) {
  constexpr size_t B = block_bytes(T);
  const __m512i idx4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i idx8 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  __m512 acc[NT];
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
  for (int un = 0; un < k / 64; un++) {
    const char* blk = wr + size_t(un) * 2 * B;
    const __m512 sl = _mm512_permutexvar_ps(idx4, unit_scales<T>(blk));
    __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(qsimd::codes32<T>(blk, 0)), qsimd::codes32<T>(blk + B, 0), 1);
    __mmask64 neg = 0;
    if constexpr (T == dtype::q8_0) neg = _mm512_movepi8_mask(u), u = _mm512_abs_epi8(u);  // |w| · (±q): exact
    for (int t = 0; t < NT; t++) {
      __m512i q = _mm512_loadu_si512(xr[t].q + 64 * un);
      if constexpr (T == dtype::q8_0) q = _mm512_mask_sub_epi8(q, neg, _mm512_setzero_si512(), q);
      __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, q);
      if constexpr (T == dtype::q4_0) s = _mm512_sub_epi32(s, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), q));  // exact Σ (u − 8)·q
      const __m512 dl = _mm512_permutexvar_ps(idx8, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(xr[t].dx + 2 * un)))));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sl, dl), acc[t]);
    }
  }
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(acc[t]);
}

// A k-quant block's integer scales in group order (group g = values [16g, 16g + 16)): g16[g] its scale, o16[g] the
// factor of its activation sum bs_g (q4_k / q5_k: the min m_{g/2}, scaled by *dmin; q6_k: 32 · sc_g, scaled by d as
// the codes). Returns d.
template <dtype T>
inline float kblock_scales(const char* blk, __m256i* g16, __m256i* o16, float* dmin) {
  if constexpr (T == dtype::q6_k) {
    uint16_t h;
    std::memcpy(&h, blk + 208, 2);
    *g16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    *o16 = _mm256_slli_epi16(*g16, 5);
    *dmin = 0;
    return _cvtsh_ss(h);
  } else {
    float d;
    const __m128i sm = qsimd::k4_scales_mins(blk, &d, dmin);  // 8 scale bytes, 8 min bytes
    *g16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sm, sm));  // s0 s0 s1 s1 … s7 s7
    const __m128i m = _mm_unpackhi_epi64(sm, sm);
    *o16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));  // m0 m0 m1 m1 … m7 m7
    return d;
  }
}

// The 64 codes of sub-blocks 2c (bytes 0..31) and 2c + 1 (32..63) of a k-quant block, unsigned.
template <dtype T>
inline __m512i codes64(const char* blk, int c) {
  if constexpr (T == dtype::q4_k || T == dtype::q5_k) {  // both nibbles of 32 bytes
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + (T == dtype::q4_k ? 16 : 48) + 32 * c));
    __m512i u = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), _mm512_set1_epi8(0x0F));
    if constexpr (T == dtype::q5_k) {  // + 16 where bit 2c (low half) / 2c + 1 (high half) of qh[l] is set
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
      const __m512i bits = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(char(1 << (2 * c)))), _mm256_set1_epi8(char(2 << (2 * c))), 1);
      const __mmask64 high = _mm512_test_epi8_mask(_mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1), bits);
      u = _mm512_mask_add_epi8(u, high, u, _mm512_set1_epi8(16));
    }
    return u;
  } else {
    return _mm512_inserti64x4(_mm512_castsi256_si512(qsimd::codes32<T>(blk, 2 * c)), qsimd::codes32<T>(blk, 2 * c + 1), 1);
  }
}

// k-quants, y[t * ldy] = row wr · x_t for NT tokens, in llama.cpp's integers as the AVX2 ktile: per 64 values
// vpmaddubsw then vpmaddwd by the group scales (exact int32), then q4_k / q5_k: one f32 step d · dx per 64 values
// and − dmin · dx · Σ_g o_g · bs_g per block (into the same lanes); q6_k: d · dx · (sums − offsets) per block, its −32 in the integers.
template <dtype T, int NT>
void ktile(const char* wr, int k, const x_row* xr, float* y, int ldy) {
  constexpr size_t B = block_bytes(T);
  __m512 acc[NT];
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
  constexpr int g1 = 0x00010001, g2 = 2 * g1, g3 = 3 * g1;  // int16 lane L: group L / 8 (two int16 per int32)
  const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, g1, g1, g1, g1, g2, g2, g2, g2, g3, g3, g3, g3);
  for (int b = 0; b < k / 256; b++) {
    const char* blk = wr + size_t(b) * B;
    __m256i g16, o16;
    float dmin;
    const float d = kblock_scales<T>(blk, &g16, &o16, &dmin);
    const __m512i gs = _mm512_castsi256_si512(g16);
    alignas(64) __m512 dd[NT];  // d · dx per token (a memory operand of the FMAs: acc stays in registers)
    __m512i isum[NT];           // q6_k: the block's sums
    for (int t = 0; t < NT; t++) dd[t] = _mm512_set1_ps(d * xr[t].dx[b]), isum[t] = _mm512_setzero_si512();
    __asm__ volatile("" : : "r"(dd) : "memory");
    for (int c = 0; c < 4; c++) {
      const __m512i u = codes64<T>(blk, c);
      const __m512i sc = _mm512_permutexvar_epi16(_mm512_add_epi16(quarter, _mm512_set1_epi16(short(4 * c))), gs);  // groups 4c .. 4c + 3
      for (int t = 0; t < NT; t++) {
        const __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(u, _mm512_loadu_si512(xr[t].q + 256 * b + 64 * c)), sc);
        if constexpr (T == dtype::q6_k) isum[t] = _mm512_add_epi32(isum[t], p);
        else acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), dd[t], acc[t]);  // one f32 step per 64 values, as llama.cpp's Q4_K gemm
      }
    }
    for (int t = 0; t < NT; t++) {
      const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t].bs + 16 * b)), o16);
      if constexpr (T == dtype::q6_k)
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[t], _mm512_zextsi256_si512(off))), dd[t], acc[t]);
      else
        acc[t] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(off)), _mm512_set1_ps(dmin * xr[t].dx[b]), acc[t]);
    }
  }
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(acc[t]);
}

constexpr int tile_tokens = 8;  // tokens per pass over a weight row

// The tile of NT tokens of one row: ktile (k-quants) or row_tile (32-value blocks).
template <dtype T, int NT>
inline void tile(const char* wr, int k, const x_row* xr, float* y, int ldy) {
  if constexpr (block_elems(T) == 256) ktile<T, NT>(wr, k, xr, y, ldy);
  else row_tile<T, NT>(wr, k, xr, y, ldy);
}

// The last nt < tile_tokens tokens (NT: the largest tile still to try).
template <dtype T, int NT>
inline void tail_tile(int nt, const char* wr, int k, const x_row* xr, float* y, int ldy) {
  if constexpr (NT > 0) {
    if (nt != NT) return tail_tile<T, NT - 1>(nt, wr, k, xr, y, ldy);
    tile<T, NT>(wr, k, xr, y, ldy);
  }
}

template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  char* xq = reinterpret_cast<char*>(scratch);
  const size_t rb = row_bytes(T, k);
  x_row xr[quant_x_chunk];
  for (int t0 = 0; t0 < n; t0 += quant_x_chunk) {
    const int nt = std::min(quant_x_chunk, n - t0);
    qsimd::quantize_x_rows(x + size_t(t0) * k, nt, k, block_elems(T), xq);
    for (int t = 0; t < nt; t++) xr[t] = quant::x_row_at(xq, k, t);
    for (int r = r0; r < r1; r++) {
      const char* wr = static_cast<const char*>(w) + size_t(r) * rb;
      float* yr = y + size_t(t0) * ldy + r;
      int t = 0;
      for (; t + tile_tokens <= nt; t += tile_tokens) tile<T, tile_tokens>(wr, k, xr + t, yr + size_t(t) * ldy, ldy);
      if (t < nt) tail_tile<T, tile_tokens - 1>(nt - t, wr, k, xr + t, yr + size_t(t) * ldy, ldy);
    }
  }
}

}  // namespace

void quant_matmul_avx512(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  static const bool vnni = cpu_has_avx512_vnni();
  if (!vnni || k % 64 != 0) return quant_matmul_avx2(x, n, k, w, wt, r0, r1, y, ldy, scratch);
  switch (wt) {
    case dtype::q8_0: return matmul_t<dtype::q8_0>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_0: return matmul_t<dtype::q4_0>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q4_k: return matmul_t<dtype::q4_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q5_k: return matmul_t<dtype::q5_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    case dtype::q6_k: return matmul_t<dtype::q6_k>(x, n, k, w, r0, r1, y, ldy, scratch);
    default: return;
  }
}

}  // namespace resident

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace resident {
// AVX512_VNNI: CPUID.7.0:ECX bit 11, on top of the AVX-512 level.
bool cpu_has_avx512_vnni() {
  if (!cpu_has_avx512()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (c & (1u << 11)) != 0;
}
}  // namespace resident

#else
#include "kernels.h"
namespace resident {
bool cpu_has_avx512_vnni() { return false; }
void quant_matmul_avx512(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_portable(x, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
