// AVX-512 matmul for block-quant weights (quant-formats.h). q8_0 / q4_0 (VNNI): vpdpbusd multiplies 64 weight codes
// (u8) by 64 activation bytes (s8) into 16 int32 lanes of 4 values each, scaled per lane by d_w · d_x in f32.
// k-quants: llama.cpp's integers, 64 values per instruction (vpmaddubsw, then vpdpwssd by the group scales).
// Without VNNI (or with k % 64 != 0 for the 32-blocks) the AVX2 kernel runs.
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "avx512-lanes.h"
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

// q8_0 / q4_0 activations of one token as row_tile reads them, per 64 codes (two 32-blocks): q and dx, then for each
// int32 lane L (codes 4L .. 4L + 3) corr = −c · Σ q over its 4 codes (c = 128: q8_0's codes offset to unsigned by
// 128; c = 8: q4_0's codes 0..15 stand for u − 8) and dl = its block's scale d_x.
struct xb_row {
  const int8_t* q;
  const float* dx;
  const int32_t* corr;
  const float* dl;
};

// corr and dl (k / 4 each) of activation row x.
template <dtype T>
inline void xb_prepare(const x_row& x, int k, int32_t* corr, float* dl) {
  const __m512i c = _mm512_set1_epi8(char(T == dtype::q8_0 ? 128 : 8));
  for (int un = 0; un < k / 64; un++) {
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, _mm512_loadu_si512(x.q + 64 * un));
    _mm512_storeu_si512(corr + 16 * un, _mm512_sub_epi32(_mm512_setzero_si512(), s));
    _mm512_storeu_ps(dl + 16 * un, _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(x.dx[2 * un]), _mm512_set1_ps(x.dx[2 * un + 1])));
  }
}

// Activation bytes a row tile may read per weight row and still find in L1 beside the rest of a decode step's
// working set (q, corr and dl: 3 k per token). Past it the tile reads q and dx only (1 k per token): on Qwen3-0.6B
// Q8_0, 8 sessions at k = 1024 (24 KiB) decoded 8 % slower with corr and dl than without, 4 sessions 8 % faster.
constexpr size_t xb_l1_bytes = 16 << 10;

// q8_0 / q4_0, Σ acc[t] = row wr · x_t for NT tokens: per 64 codes one vpdpbusd (exact int32 sums Σ w·q of 4),
// scaled by d_w · d_x per lane in f32. Pre: of the unsigned codes (q8_0: w + 128) from corr, d_x from dl — fewer
// instructions per token, 3 k bytes of activations per token; else (past xb_l1_bytes) of |w| and ±q, from q and dx.
template <dtype T, int NT, bool Pre>
void row_tile_t(const char* wr, int k, const xb_row* xr, __m512* acc) {
  constexpr size_t B = block_bytes(T);
  const __m512i idx8 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
  for (int un = 0; un < k / 64; un++) {
    const char* blk = wr + size_t(un) * 2 * B;
    uint16_t h0, h1;
    std::memcpy(&h0, blk, 2), std::memcpy(&h1, blk + B, 2);
    const __m512 sl = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(_cvtsh_ss(h0)), _mm512_set1_ps(_cvtsh_ss(h1)));
    __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(qsimd::codes32<T>(blk, 0)), qsimd::codes32<T>(blk + B, 0), 1);
    __mmask64 neg = 0;
    if constexpr (T == dtype::q8_0) {
      if constexpr (Pre) u = _mm512_xor_si512(u, _mm512_set1_epi8(char(0x80)));  // w + 128
      else neg = _mm512_movepi8_mask(u), u = _mm512_abs_epi8(u);                 // |w| · (±q)
    }
    for (int t = 0; t < NT; t++) {
      __m512i s;
      __m512 dl;
      if constexpr (Pre) {
        s = _mm512_dpbusd_epi32(_mm512_loadu_si512(xr[t].corr + 16 * un), u, _mm512_loadu_si512(xr[t].q + 64 * un));
        dl = _mm512_loadu_ps(xr[t].dl + 16 * un);
      } else {
        __m512i q = _mm512_loadu_si512(xr[t].q + 64 * un);
        if constexpr (T == dtype::q8_0) q = _mm512_mask_sub_epi8(q, neg, _mm512_setzero_si512(), q);
        s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, q);
        if constexpr (T == dtype::q4_0) s = _mm512_sub_epi32(s, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), q));
        dl = _mm512_permutexvar_ps(idx8, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(xr[t].dx + 2 * un)))));
      }
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sl, dl), acc[t]);
    }
  }
}

template <dtype T, int NT>
inline void row_tile(const char* wr, int k, const xb_row* xr, __m512* acc) {
  if (size_t(NT) * size_t(k) * 3 <= xb_l1_bytes) row_tile_t<T, NT, true>(wr, k, xr, acc);
  else row_tile_t<T, NT, false>(wr, k, xr, acc);
}

// k-quant chunk c of 64 values: the sub-blocks (a, b) in its bytes 0..31 and 32..63. q4_k / q5_k: (0, 2), (1, 3),
// (4, 6), (5, 7) — the low then high nibbles of 64 packed bytes, read with one load, for activations in the same
// order (x_kperm); q6_k: (2c, 2c + 1), natural order.
template <dtype T>
constexpr int chunk_sub(int c, int half) {
  return T == dtype::q6_k ? 2 * c + half : 4 * (c / 2) + c % 2 + 2 * half;
}

// A k-quant block's integer scales. chunk(c): the vpdpwssd operand of chunk c, int32 lane L (values 4L .. 4L + 3)
// → its unit's scale in both int16 halves (q6_k: unit = group of 16 values; q4_k / q5_k: sub-block of 32); o16[g]
// the factor of group g's activation sum bs_g (q4_k / q5_k: the min m_{g/2}, scaled by dmin; q6_k: 32 · sc_g,
// scaled by d as the codes).
template <dtype T>
struct kblock_scales {
  float d, dmin;
  __m256i o16;
  // q4_k / q5_k: the 8 scale then 8 min bytes in each 128-bit lane; q6_k: the int32 scales permuted so that
  // lane j position p holds group 4p + j (chunk c's scales: position c of each 128-bit lane)
  __m512i src;

  explicit kblock_scales(const char* blk) {
    if constexpr (T == dtype::q6_k) {
      uint16_t h;
      std::memcpy(&h, blk + 208, 2);
      const __m256i g16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
      const __m512i lo = _mm512_cvtepu16_epi32(g16);
      src = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), _mm512_or_si512(lo, _mm512_slli_epi32(lo, 16)));
      o16 = _mm256_slli_epi16(g16, 5);
      d = _cvtsh_ss(h), dmin = 0;
    } else {
      src = _mm512_broadcast_i32x4(qsimd::k4_scales_mins(blk, &d, &dmin));
      // m0 m0 m1 m1 … m7 m7 as int16: bytes 8 + g / 2, then a zero (index 0x80)
      const __m256i mins = _mm256_setr_epi16(0x8008, 0x8008, 0x8009, 0x8009, 0x800A, 0x800A, 0x800B, 0x800B, 0x800C, 0x800C,
                                             0x800D, 0x800D, 0x800E, 0x800E, 0x800F, 0x800F);
      o16 = _mm256_shuffle_epi8(_mm512_castsi512_si256(src), mins);
    }
  }

  __m512i chunk(int c) const {
    if constexpr (T == dtype::q6_k) {
      return _mm512_shuffle_epi32(src, _MM_PERM_ENUM(0x55 * c));
    } else {  // per int32 lane: scale byte, zero, scale byte, zero
      const auto pick = [](int j) { return int(0x80008000u | unsigned(j) | unsigned(j) << 16); };
      return _mm512_shuffle_epi8(src, _mm512_inserti64x4(_mm512_set1_epi32(pick(chunk_sub<T>(c, 0))), _mm256_set1_epi32(pick(chunk_sub<T>(c, 1))), 1));
    }
  }
};

// The codes of chunks 2h and 2h + 1 of a k-quant block (unsigned 0..63), two per call.
template <dtype T>
inline void codes128(const char* blk, int h, __m512i* u) {
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
    const __m512i q = _mm512_loadu_si512(blk + (T == dtype::q4_k ? 16 : 48) + 64 * h);
    u[0] = _mm512_and_si512(q, lo4), u[1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
    if constexpr (T == dtype::q5_k) {  // + 16 where bit j of qh[l] is set (j the value's sub-block, l its byte)
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
      for (int i = 0; i < 2; i++) {
        const int c = 2 * h + i;
        const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(char(1 << chunk_sub<T>(c, 0))), _mm256_set1_epi8(char(1 << chunk_sub<T>(c, 1))), 1);
        u[i] = _mm512_mask_add_epi8(u[i], _mm512_test_epi8_mask(qh, bits), u[i], _mm512_set1_epi8(16));
      }
    }
  } else {  // q6_k half h: ql[64h + l] (low nibbles: values 0..63, high: 64..127), qh[32h + l] bits 2i, 2i + 1 of value 32i + l
    const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
    const __m512i hi2 = _mm512_set1_epi8(0x30);
    // rotations bring bits 2i, 2i + 1 of each byte to 4, 5: values 0..31 | 32..63 rotate left 4 | 2, 64..95 | 96..127 by 0 | −2
    const __m512i a = _mm512_rolv_epi32(qh, _mm512_inserti64x4(_mm512_set1_epi32(4), _mm256_set1_epi32(2), 1));
    // (a & c) | b, c = 0x0F: the low nibble of a under the two high bits of b (bits 4, 5 only)
    u[0] = _mm512_ternarylogic_epi32(ql, _mm512_and_si512(a, hi2), lo4, 0xEC);
    u[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), _mm512_and_si512(_mm512_ror_epi32(a, 4), hi2), lo4, 0xEC);
  }
}

// k-quants, Σ acc[t] = row wr · x_t for NT tokens, in llama.cpp's integers: per 64 values vpmaddubsw (pairs,
// exact in int16) then vpdpwssd by the group scales into one int32 sum per block (exact), then one f32 step per
// block: q4_k / q5_k d · dx · sums − dmin · dx · Σ_g o_g · bs_g (the second term in its own accumulator); q6_k
// d · dx · (sums − Σ_g 32 sc_g · bs_g). One row per pass: the weights stream in order (rows interleaved defeat the
// hardware prefetcher in decode). xr: activations with x_kperm's order for q4_k / q5_k.
template <dtype T, int NT>
void ktile(const char* wr, int k, const x_row* xr, __m512* acc) {
  constexpr size_t B = block_bytes(T);
  constexpr bool mins = T != dtype::q6_k;
  __m256 accm[NT];
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps(), accm[t] = _mm256_setzero_ps();
  for (int b = 0; b < k / 256; b++) {
    const char* blk = wr + size_t(b) * B;
    const kblock_scales<T> sc(blk);
    __m512i isum[NT];
    for (int t = 0; t < NT; t++) isum[t] = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
      __m512i u[2];
      codes128<T>(blk, h, u);
      for (int i = 0; i < 2; i++) {
        const int c = 2 * h + i;
        const __m512i s = sc.chunk(c);
        for (int t = 0; t < NT; t++)
          isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(u[i], _mm512_loadu_si512(xr[t].q + 256 * b + 64 * c)), s);
      }
    }
    for (int t = 0; t < NT; t++) {
      const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr[t].bs + 16 * b)), sc.o16);
      const __m512 ddx = _mm512_set1_ps(sc.d * xr[t].dx[b]);
      if constexpr (mins) {
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), ddx, acc[t]);
        accm[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(off), _mm256_set1_ps(sc.dmin * xr[t].dx[b]), accm[t]);
      } else {
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[t], _mm512_zextsi256_si512(off))), ddx, acc[t]);
      }
    }
  }
  if constexpr (mins)
    for (int t = 0; t < NT; t++) acc[t] = _mm512_add_ps(acc[t], _mm512_zextps256_ps512(accm[t]));
}

// q4_k / q5_k activations in chunk order: per 256 values, 32-value pieces 1 and 2 (and 5 and 6) swap places.
inline void x_kperm(char* xq, int nt, int k) {
  for (int t = 0; t < nt; t++) {
    int8_t* q = reinterpret_cast<int8_t*>(xq + size_t(t) * quant::x_row_bytes(k));
    for (int b = 0; b < k; b += 128) {
      const __m256i p1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + b + 32));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b + 32), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + b + 64)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b + 64), p1);
    }
  }
}

constexpr int tile_tokens = 8;  // tokens per pass over a weight row

// The activation rows a tile of type T reads.
template <dtype T>
using tile_x = std::conditional_t<block_elems(T) == 256, x_row, xb_row>;

// The tile of NT tokens of one row: ktile (k-quants) or row_tile (32-value blocks); Σ acc[t] = row · x_t.
template <dtype T, int NT>
inline void tile(const char* wr, int k, const tile_x<T>* xr, __m512* acc) {
  if constexpr (block_elems(T) == 256) ktile<T, NT>(wr, k, xr, acc);
  else row_tile<T, NT>(wr, k, xr, acc);
}

// y[t * ldy] = row wr · x_t, t < NT.
template <dtype T, int NT>
inline void tile_store(const char* wr, int k, const tile_x<T>* xr, float* y, int ldy) {
  __m512 acc[NT];
  tile<T, NT>(wr, k, xr, acc);
  for (int t = 0; t < NT; t++) y[size_t(t) * ldy] = _mm512_reduce_add_ps(acc[t]);
}

// The last nt < tile_tokens tokens (NT: the largest tile still to try).
template <dtype T, int NT>
inline void tail_tile(int nt, const char* wr, int k, const tile_x<T>* xr, float* y, int ldy) {
  if constexpr (NT > 0) {
    if (nt != NT) return tail_tile<T, NT - 1>(nt, wr, k, xr, y, ldy);
    tile_store<T, NT>(wr, k, xr, y, ldy);
  }
}

// One token (decode): y[r] for r in [r0, r1), the rows one after another (in order, for the prefetcher) and their
// sums reduced 16 at a time (hsum16), off the path of the next row; with more tokens per pass the per-row reduction
// is hidden already (grouping them measured slower on q8_0).
template <dtype T>
inline void rows_one_token(const char* w, size_t rb, int r0, int r1, int k, const tile_x<T>* xr, float* y) {
  for (int r = r0; r < r1; r += 16) {
    const int m = std::min(16, r1 - r);
    __m512 a[16];
    for (int i = 0; i < 16; i++) {
      if (i < m) tile<T, 1>(w + size_t(r + i) * rb, k, xr, a + i);
      else a[i] = _mm512_setzero_ps();
    }
    _mm512_mask_storeu_ps(y + r, avx512::tail_mask(m), avx512::hsum16(a));
  }
}

// scratch: the chunk's activation rows (x_row_bytes(k) = 1.5 k bytes each), then for 32-value blocks their corr and
// dl (k bytes each per token): 3.5 k bytes per token, within the 4 · 16 k that matmul_scratch_floats(k) holds.
static_assert(quant_x_chunk * 7 <= matmul_tile_tokens_max * 4 * 2, "quant matmul scratch");

template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  char* xq = reinterpret_cast<char*>(scratch);
  int32_t* corr = reinterpret_cast<int32_t*>(xq + (size_t(quant_x_chunk) * quant::x_row_bytes(k) + 63) / 64 * 64);
  float* dl = reinterpret_cast<float*>(corr + size_t(quant_x_chunk) * (k / 4));
  const char* wc = static_cast<const char*>(w);
  const size_t rb = row_bytes(T, k);
  tile_x<T> xr[quant_x_chunk];
  for (int t0 = 0; t0 < n; t0 += quant_x_chunk) {
    const int nt = std::min(quant_x_chunk, n - t0);
    qsimd::quantize_x_rows(x + size_t(t0) * k, nt, k, block_elems(T), xq);
    if constexpr (T == dtype::q4_k || T == dtype::q5_k) x_kperm(xq, nt, k);
    for (int t = 0; t < nt; t++) {
      const x_row xt = quant::x_row_at(xq, k, t);
      if constexpr (block_elems(T) == 256) {
        xr[t] = xt;
      } else {
        xb_prepare<T>(xt, k, corr + size_t(t) * (k / 4), dl + size_t(t) * (k / 4));
        xr[t] = {xt.q, xt.dx, corr + size_t(t) * (k / 4), dl + size_t(t) * (k / 4)};
      }
    }
    if (nt == 1) {
      rows_one_token<T>(wc, rb, r0, r1, k, xr, y + size_t(t0) * ldy);
      continue;
    }
    for (int r = r0; r < r1; r++) {
      const char* wr = wc + size_t(r) * rb;
      float* yr = y + size_t(t0) * ldy + r;
      int t = 0;
      for (; t + tile_tokens <= nt; t += tile_tokens) tile_store<T, tile_tokens>(wr, k, xr + t, yr + size_t(t) * ldy, ldy);
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
