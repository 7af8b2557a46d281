// AVX2 matmul for block-quant weights (quant-formats.h): the activation chunk is quantized once per call and each
// weight block is decoded once per tile of up to 8 tokens. k-quants: vpmaddubsw then vpmaddwd by the integer group
// scales give an exact int32 sum per block and token, scaled by d · dx in f32; q8_0 / q4_0: the chunk interleaved by
// block, the 8 tokens' exact block sums reduced into the lanes of one vector, one f32 step per block (ggml's scalar
// order).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "quant-formats.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "avx2-lanes.h"  // hsum8, compiled for AVX2 in this file
#include "quant-simd.h"

namespace resident {
namespace {

using quant::x_row;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// A k-quant block's scales from registers (a vector load of scalar stores would stall on store forwarding):
// s16: the 16 group scales as int16 (q4_k / q5_k: the 8 6-bit sub-block scales of k4_scale_min, each for two
// groups; q6_k: the 16 int8 scales) laid out for scale_pick, lane half 0 holding group 2j's at int16 j, half 1
// group 2j + 1's; o16: the integer offset factor of each group g in order, to meet the activations' group sums bs
// (q4_k / q5_k: min m_{g/2}, scaled by *dmin; q6_k: 32 · sc_g, scaled by d as the codes). Returns d.
template <dtype T>
inline float kblock_scales(const char* blk, __m256i* s16, __m256i* o16, float* dmin) {
  if constexpr (T == dtype::q6_k) {
    uint16_t h;
    std::memcpy(&h, blk + 208, 2);
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    *s16 = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)));
    *o16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5);
    *dmin = 0;
    return _cvtsh_ss(h);
  } else {
    float d;
    const __m128i sm = qsimd::k4_scales_mins(blk, &d, dmin);  // 8 scale bytes, 8 min bytes
    *s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m128i m = _mm_unpackhi_epi64(sm, sm);
    *o16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));  // m0 m0 m1 m1 … m7 m7
    return d;
  }
}

// 16 int16: the scale of group 2j in the low 8, of group 2j + 1 in the high 8 (sub-block j's two halves).
inline __m256i scale_pick(__m256i s16, int j) { return _mm256_shuffle_epi8(s16, _mm256_set1_epi16(short(0x0100 + 0x0202 * j))); }

// k-quants, y[t * ldy] = row wr · x_t for NT tokens (Vec: out[t], the lanes of that sum), in llama.cpp's integers
// (ggml_vec_dot_q*_K_q8_K): the exact Σ_g sc_g · Σ_{i∈g} u_i·q_i (vpmaddubsw, then vpmaddwd by the group scales)
// and Σ_g o_g · bs_g (|sums| < 2^26), scaled in f32 — q4_k / q5_k: d · dx · sums per 64 values, as llama.cpp's Q4_K
// gemm steps (one step per block doubled the whole-file KL from llama.cpp on tiny-256-calm), − dmin · dx · offsets
// per block; q6_k: d · dx · (sums − offsets) per block, its −32 taken in the integers.
template <dtype T, int NT, bool Vec = false>
void ktile(const char* wr, int k, const x_row* xr, float* y, int ldy, __m256* out = nullptr) {
  constexpr size_t B = block_bytes(T);
  __m256 acc[NT], accm[NT];
  for (int t = 0; t < NT; t++) acc[t] = accm[t] = _mm256_setzero_ps();
  for (int b = 0; b < k / 256; b++) {
    const char* blk = wr + size_t(b) * B;
    __m256i s16, o16;
    float dmin;
    const float d = kblock_scales<T>(blk, &s16, &o16, &dmin);
    alignas(32) __m256 dd[NT];  // d · dx per token (a memory operand of the FMAs)
    for (int t = 0; t < NT; t++) dd[t] = _mm256_set1_ps(d * xr[t].dx[b]);
    if constexpr (T != dtype::q6_k) __asm__ volatile("" : : "r"(dd) : "memory");  // dd stays in memory, acc in registers
    __m256i isum[NT];  // q6_k: the block's sums
    for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {  // sub-blocks 2c, 2c + 1
      const __m256i u0 = qsimd::codes32<T>(blk, 2 * c), u1 = qsimd::codes32<T>(blk, 2 * c + 1);
      const __m256i sc0 = scale_pick(s16, 2 * c), sc1 = scale_pick(s16, 2 * c + 1);
#pragma GCC unroll 8
      for (int t = 0; t < NT; t++) {
        const __m256i* q = reinterpret_cast<const __m256i*>(xr[t].q + 256 * b + 64 * c);
        const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_loadu_si256(q)), sc0),
                                           _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_loadu_si256(q + 1)), sc1));
        if constexpr (T == dtype::q6_k) {
          isum[t] = _mm256_add_epi32(isum[t], p);
          __asm__("" : "+x"(isum[t]));  // keeps the running sum in its register (unpinned, GCC stores every product)
        } else {
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), dd[t], acc[t]);  // one f32 step per 64 values, as llama.cpp's Q4_K gemm
          __asm__ volatile("" : "+x"(acc[t]) : : "memory");
        }
      }
    }
    for (int t = 0; t < NT; t++) {
      const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t].bs + 16 * b)), o16);
      if constexpr (T == dtype::q6_k)
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[t], off)), dd[t], acc[t]);
      else
        accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(off), _mm256_set1_ps(dmin * xr[t].dx[b]), accm[t]);
    }
  }
  for (int t = 0; t < NT; t++) {
    if constexpr (Vec) out[t] = _mm256_sub_ps(acc[t], accm[t]);
    else y[size_t(t) * ldy] = hsum(_mm256_sub_ps(acc[t], accm[t]));
  }
}

// Activations of one chunk of nt tokens for 32-value blocks, interleaved by block: token t's codes of block b at
// q + b·32nt + 32t, its d_x at dx[b·nt + t] and Σ codes at qsum[b·nt + t] (8 values readable from any token).
struct chunk_x {
  const int8_t* q;
  const float* dx;
  const int32_t* qsum;
  int nt;
};

// 8 vectors of 8 int32 → their 8 lane sums, in order (exact).
inline __m256i sum8(const __m256i* s) {
  const __m256i b0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
  const __m256i b1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// q8_0 / q4_0, y[t * ldy] = row wr · x_t for NT <= 8 tokens of a chunk, as ggml's scalar vec_dot_q8_0_q8_0 /
// q4_0_q8_0: y += (d_w · d_x) · (the block's exact integer dot product), one f32 step per block and token (the
// tokens in the lanes of one vector).
template <dtype T, int NT>
void tok_tile(const char* wr, int k, const chunk_x& x, float* y, int ldy) {
  static_assert(block_elems(T) == 32 && NT <= 8, "tok_tile: 32-value blocks, up to 8 tokens");
  constexpr size_t B = block_bytes(T);
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t qs = size_t(32) * x.nt;
  const int8_t* q = x.q;
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < k / 32; b++, q += qs) {
    const char* blk = wr + size_t(b) * B;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const __m256i u = qsimd::codes32<T>(blk, 0), ua = T == dtype::q8_0 ? _mm256_abs_epi8(u) : u;
    __m256i s[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; t++) {
      if (t >= NT) { s[t] = _mm256_setzero_si256(); continue; }
      const __m256i qt = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * t));
      s[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(ua, T == dtype::q8_0 ? _mm256_sign_epi8(qt, u) : qt), ones);
    }
    const size_t o = size_t(b) * x.nt;
    __m256i sum = sum8(s);  // q4_0: Σ u·q, less 8 · Σ q below
    if constexpr (T == dtype::q4_0) sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qsum + o)), 3));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), _mm256_loadu_ps(x.dx + o)), acc);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, acc);
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = out[t];
}

// q8_0 / q4_0 at one token (decode), the lanes of row wr · x, as ggml's vec_dot_q8_0_q8_0 / q4_0_q8_0 on AVX2:
// acc += (d_w · d_x) · the exact int32 lane sums of each block. (Tiles of 4 rows measured faster from cache but
// slower in a decoding model, weights from DRAM: 4 interleaved streams.)
template <dtype T>
__m256 row_dot1(const char* wr, int k, const x_row& xr) {
  static_assert(block_elems(T) == 32, "row_dot1: 32-value blocks");
  constexpr size_t B = block_bytes(T);
  const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < k / 32; b++) {
    const char* blk = wr + size_t(b) * B;
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr.q + 32 * b));
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const __m256i u = qsimd::codes32<T>(blk, 0);
    __m256i p16 = T == dtype::q8_0 ? _mm256_maddubs_epi16(_mm256_abs_epi8(u), _mm256_sign_epi8(q, u)) : _mm256_maddubs_epi16(u, q);
    if constexpr (T == dtype::q4_0) p16 = _mm256_sub_epi16(p16, _mm256_maddubs_epi16(eight, q));  // exact Σ (u − 8)·q
    acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), _mm256_broadcast_ss(xr.dx + b)), _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones)), acc);
  }
  return acc;
}

// One token (decode): y[r] for r in [r0, r1), the rows one after another (in order, for the prefetcher) and their
// sums reduced 8 at a time (hsum8), off the path of the next row.
template <dtype T>
void rows_one_token(const char* w, size_t rb, int r0, int r1, int k, const x_row& xr, float* y) {
  for (int r = r0; r < r1; r += 8) {
    const int m = std::min(8, r1 - r);
    __m256 a[8];
    for (int i = 0; i < 8; i++) {
      if (i >= m) a[i] = _mm256_setzero_ps();
      else if constexpr (block_elems(T) == 256) ktile<T, 1, true>(w + size_t(r + i) * rb, k, &xr, nullptr, 0, a + i);
      else a[i] = row_dot1<T>(w + size_t(r + i) * rb, k, xr);
    }
    const __m256 s = hsum8(a);
    if (m == 8) {
      _mm256_storeu_ps(y + r, s);
    } else {
      alignas(32) float o[8];
      _mm256_store_ps(o, s);
      std::copy(o, o + m, y + r);
    }
  }
}

constexpr int tile_tokens = 8;  // tokens per tile (ktile's registers: NT int32 sums; f32 sums spill once per block)

// The tile of nt <= NT tokens of one row: ktile (k-quants, rows xr) or tok_tile.
template <dtype T, int NT>
inline void tail_tile(int nt, const char* wr, int k, const x_row* xr, const chunk_x& x, float* y, int ldy) {
  if constexpr (NT > 0) {
    if (nt != NT) return tail_tile<T, NT - 1>(nt, wr, k, xr, x, y, ldy);
    if constexpr (block_elems(T) == 256) ktile<T, NT>(wr, k, xr, y, ldy);
    else tok_tile<T, NT>(wr, k, x, y, ldy);
  }
}

// The nt activation rows xr (32-value blocks) as chunk_x at xi, dxi, qsum (room for 8 values past the last).
inline chunk_x interleave_chunk(const x_row* xr, int nt, int k, int8_t* xi, float* dxi, int32_t* qsum) {
  const size_t end = size_t(nt) * (k / 32);
  std::fill(dxi + end, dxi + end + 8, 0.0f);
  std::fill(qsum + end, qsum + end + 8, 0);
  for (int b = 0; b < k / 32; b++)
    for (int t = 0; t < nt; t++) {
      std::memcpy(xi + (size_t(b) * nt + t) * 32, xr[t].q + 32 * b, 32);
      dxi[size_t(b) * nt + t] = xr[t].dx[b];
      qsum[size_t(b) * nt + t] = xr[t].bs[2 * b] + xr[t].bs[2 * b + 1];
    }
  return {xi, dxi, qsum, nt};
}

// scratch (k floats per token of a chunk): the chunk's activation rows (1.5 k bytes each), then for 32-value blocks
// their chunk_x (k + 8 bytes per token and block, + 8 · 8 bytes).
template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  static_assert(quant_x_chunk * 3 / 8 + quant_x_chunk * 5 / 16 + 1 <= matmul_tile_tokens_max, "quant matmul scratch");
  char* xq = reinterpret_cast<char*>(scratch);
  int8_t* xi = reinterpret_cast<int8_t*>(scratch + (size_t(quant_x_chunk) * quant::x_row_bytes(k) + 31) / 32 * 8);
  float* dxi = reinterpret_cast<float*>(xi + size_t(quant_x_chunk) * k);
  int32_t* qsum = reinterpret_cast<int32_t*>(dxi + size_t(quant_x_chunk) * (k / 32) + 8);
  const size_t rb = row_bytes(T, k);
  const char* wb = static_cast<const char*>(w);
  x_row xr[quant_x_chunk];
  for (int t0 = 0; t0 < n; t0 += quant_x_chunk) {
    const int nt = std::min(quant_x_chunk, n - t0);
    float* yc = y + size_t(t0) * ldy;
    qsimd::quantize_x_rows(x + size_t(t0) * k, nt, k, block_elems(T), xq);
    for (int t = 0; t < nt; t++) xr[t] = quant::x_row_at(xq, k, t);
    if (nt == 1) {  // decode
      rows_one_token<T>(wb, rb, r0, r1, k, xr[0], yc);
      continue;
    }
    const chunk_x cx = block_elems(T) == 32 ? interleave_chunk(xr, nt, k, xi, dxi, qsum) : chunk_x{};
    auto at = [&](int t) { return block_elems(T) == 32 ? chunk_x{cx.q + 32 * t, cx.dx + t, cx.qsum + t, nt} : cx; };  // from token t
    for (int r = r0; r < r1; r++) {
      const char* wr = wb + size_t(r) * rb;
      int t = 0;
      for (; t + tile_tokens <= nt; t += tile_tokens) tail_tile<T, tile_tokens>(tile_tokens, wr, k, xr + t, at(t), yc + size_t(t) * ldy + r, ldy);
      if (t < nt) tail_tile<T, tile_tokens - 1>(nt - t, wr, k, xr + t, at(t), yc + size_t(t) * ldy + r, ldy);
    }
  }
}

}  // namespace

void quant_matmul_avx2(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
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

#pragma GCC pop_options

#else
#include "kernels.h"
namespace resident {
void quant_matmul_avx2(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  quant_matmul_portable(x, n, k, w, wt, r0, r1, y, ldy, scratch);
}
}  // namespace resident
#endif
