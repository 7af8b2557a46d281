// GGUF block-quant formats (ggml's on-disk layouts) and the activation form their matmuls use; scalar, shared by
// every kernel level. A block of E values (E = block_elems(t): 32 for q8_0/q4_0, 256 for the k-quants) is read as
// unsigned codes u[E] plus, per group of 16 values, a scale S and an offset C: value_i = S[g]·u_i − C[g], g = i / 16.
//   q8_0  {f16 d; int8 qs[32]}                         u = qs (signed here: S = d, C = 0)
//   q4_0  {f16 d; u8 qs[16]}                           u_i = qs[i % 16] nibble (low for i < 16), S = d, C = 8d
//   q4_k  {f16 d, dmin; u8 scales[12]; u8 qs[128]}     sub-block j = 2c + e (32 values): u = nibble e of qs[32c + l];
//         6-bit scale sc_j / min m_j packed in scales (k4_scale_min); S = d·sc_j, C = dmin·m_j
//   q5_k  {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}   as q4_k plus 16 · bit j of qh[l]
//   q6_k  {u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d}      sub-block j = 4h + p: u = nibble (p ≥ 2) of
//         ql[64h + 32(p & 1) + l] | ((qh[32h + l] >> 2p) & 3) << 4; S = d·scales[g], C = 32·S
// Activations: each row of x is quantized once per matmul in blocks of the weight's block size E, as llama.cpp's CPU
// backend does (its vec_dot_type): q = rne(x · id), id = 127 / max|x| per block, with the scale dx as llama.cpp keeps
// it — q8_0 (E = 32): f16(max|x| / 127), rounded to f16 as block_q8_0 stores it; q8_K (E = 256): 1 / id in f32 (its
// q8_K flips the sign so the largest |x| maps to −127: the same |q| and |dx|) — plus sx[g] = dx · Σ q over each
// 16-group; then y = Σ_g S[g]·dx·Σ_{i∈g} u_i·q_i − Σ_g C[g]·sx[g] (exact integer sums per group; q4_0 as llama.cpp:
// Σ_g S[g]·dx·Σ_{i∈g} (u_i − 8)·q_i, its offset inside the exact integer sum).
#pragma once
#include <cmath>
#include <cstring>

#include "kernels.h"

namespace resident {
namespace quant {

struct block_q8_0 { uint16_t d; int8_t qs[32]; };
struct block_q4_0 { uint16_t d; uint8_t qs[16]; };
struct block_q4_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct block_q5_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct block_q6_k { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
static_assert(sizeof(block_q8_0) == block_bytes(dtype::q8_0) && sizeof(block_q4_0) == block_bytes(dtype::q4_0), "q8_0/q4_0 layout");
static_assert(sizeof(block_q4_k) == block_bytes(dtype::q4_k) && sizeof(block_q5_k) == block_bytes(dtype::q5_k), "q4_k/q5_k layout");
static_assert(sizeof(block_q6_k) == block_bytes(dtype::q6_k), "q6_k layout");

// 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of q4_k / q5_k.
#define RESIDENT_QUANT_INLINE inline __attribute__((always_inline))  // inlined into each level's target context

RESIDENT_QUANT_INLINE void k4_scale_min(const uint8_t* q, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// S[g], C[g] for the E / 16 groups of one block; half: the f16 → f32 conversion to use.
template <dtype T, typename H>
RESIDENT_QUANT_INLINE void block_scales(const void* blk, float* S, float* C, H half) {
  if constexpr (T == dtype::q8_0 || T == dtype::q4_0) {
    const float d = half(static_cast<const block_q8_0*>(blk)->d);  // d is the first field of both
    S[0] = S[1] = d;
    C[0] = C[1] = T == dtype::q4_0 ? 8 * d : 0;
  } else if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
    const block_q4_k* b = static_cast<const block_q4_k*>(blk);  // d, dmin, scales: the same offsets in q5_k
    const float d = half(b->d), dmin = half(b->dmin);
    for (int j = 0; j < 8; j++) {
      int sc, m;
      k4_scale_min(b->scales, j, &sc, &m);
      S[2 * j] = S[2 * j + 1] = d * float(sc);
      C[2 * j] = C[2 * j + 1] = dmin * float(m);
    }
  } else {
    const block_q6_k* b = static_cast<const block_q6_k*>(blk);
    const float d = half(b->d);
    for (int g = 0; g < 16; g++) {
      S[g] = d * float(b->scales[g]);
      C[g] = 32 * S[g];
    }
  }
}

// Codes of the 32 values of sub-block j of a block (q8_0: the int8 values, as stored).
template <dtype T>
RESIDENT_QUANT_INLINE void subblock_codes(const void* blk, int j, uint8_t* u) {
  if constexpr (T == dtype::q8_0) {
    std::memcpy(u, static_cast<const block_q8_0*>(blk)->qs, 32);
  } else if constexpr (T == dtype::q4_0) {
    const uint8_t* q = static_cast<const block_q4_0*>(blk)->qs;
    for (int l = 0; l < 16; l++) u[l] = q[l] & 0xF, u[l + 16] = q[l] >> 4;
  } else if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
    const uint8_t* q = (T == dtype::q4_k ? static_cast<const block_q4_k*>(blk)->qs : static_cast<const block_q5_k*>(blk)->qs) + 32 * (j / 2);
    for (int l = 0; l < 32; l++) u[l] = j % 2 ? q[l] >> 4 : q[l] & 0xF;
    if constexpr (T == dtype::q5_k) {
      const uint8_t* qh = static_cast<const block_q5_k*>(blk)->qh;
      for (int l = 0; l < 32; l++) u[l] |= ((qh[l] >> j) & 1) << 4;
    }
  } else {
    const block_q6_k* b = static_cast<const block_q6_k*>(blk);
    const int h = j / 4, p = j % 4;
    const uint8_t* ql = b->ql + 64 * h + 32 * (p & 1);
    const uint8_t* qh = b->qh + 32 * h;
    for (int l = 0; l < 32; l++) u[l] = uint8_t((p >= 2 ? ql[l] >> 4 : ql[l] & 0xF) | (((qh[l] >> (2 * p)) & 3) << 4));
  }
}

// One row of x (k values, k % E == 0) as activation blocks: q[k], dx[k / E] (room for k / 32), sx[k / 16], and
// bs[k / 16] = Σ q over each 16-group (exact, |bs| ≤ 2032; llama.cpp's q8_K bsums).
constexpr size_t x_row_bytes(int k) { return size_t(k) + size_t(k) / 32 * 4 + size_t(k) / 16 * 4 + size_t(k) / 16 * 2; }
struct x_row {
  const int8_t* q;
  const float* dx;
  const float* sx;
  const int16_t* bs;
};
inline x_row x_row_at(const char* base, int k, int t) {
  const char* p = base + size_t(t) * x_row_bytes(k);
  const char* sx = p + k + k / 32 * 4;
  return {reinterpret_cast<const int8_t*>(p), reinterpret_cast<const float*>(p + k), reinterpret_cast<const float*>(sx),
          reinterpret_cast<const int16_t*>(sx + k / 16 * 4)};
}

// An activation row of the prefill panels (kernels::quant_panel_x of the AVX2 and AVX-512 levels) at p: an x_row, then
// b32[k / 32] = Σ q over each 32 values (exact, as bs).
struct xp_row {
  const int8_t* q;
  const float* dx;
  const int16_t* bs;
  const int16_t* b32;
};
inline xp_row xp_row_at(const char* p, int k) {
  const x_row r = x_row_at(p, k, 0);
  return {r.q, r.dx, r.bs, reinterpret_cast<const int16_t*>(p + x_row_bytes(k))};
}
constexpr size_t xp_row_bytes(int k) { return x_row_bytes(k) + size_t(k) / 32 * 2; }

// The activation scale of a block of E values with largest |x| amax and id = 127 / amax (0 for amax = 0), as
// llama.cpp stores it (above); to_half / from_half: the f16 conversions (round to nearest even) of the level.
template <typename ToHalf, typename FromHalf>
RESIDENT_QUANT_INLINE float x_block_scale(int E, float amax, float id, ToHalf to_half, FromHalf from_half) {
  return E == 32 ? from_half(to_half(amax / 127)) : id > 0 ? 1 / id : 0;
}

// Quantizes one block of E values (the reference every level reproduces bit for bit: round to nearest even of
// x · (127 / amax), scale x_block_scale); sx: E / 16 group sums times the scale, bs: the integer group sums.
inline void quantize_x_block(const float* x, int E, int8_t* q, float* dx, float* sx, int16_t* bs) {
  float amax = 0;
  for (int i = 0; i < E; i++) amax = std::fmax(amax, std::fabs(x[i]));
  const float id = amax > 0 ? 127 / amax : 0, d = x_block_scale(E, amax, id, f32_to_f16, f16_to_f32);
  for (int g = 0; g < E / 16; g++) {
    int s = 0;
    for (int i = 16 * g; i < 16 * g + 16; i++) {
      q[i] = int8_t(std::nearbyint(x[i] * id));
      s += q[i];
    }
    sx[g] = d * float(s);
    bs[g] = int16_t(s);
  }
  *dx = d;
}

}  // namespace quant

}  // namespace resident
