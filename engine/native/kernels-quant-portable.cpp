// Portable matmul and dequantization for block-quant weights (quant-formats.h): the reference the vector levels match.
#include <algorithm>

#include "kernels.h"
#include "quant-formats.h"

namespace resident {
namespace {

using quant::x_row;

// Quantizes rows [t0, t0 + nt) of x (k values each) into the activation-block layout at out.
void quantize_x_rows(const float* x, int nt, int k, int E, char* out) {
  for (int t = 0; t < nt; t++) {
    char* p = out + size_t(t) * quant::x_row_bytes(k);
    int8_t* q = reinterpret_cast<int8_t*>(p);
    float* dx = reinterpret_cast<float*>(p + k);
    float* sx = dx + k / 32;
    int16_t* bs = reinterpret_cast<int16_t*>(sx + k / 16);
    for (int b = 0; b < k / E; b++) quant::quantize_x_block(x + size_t(t) * k + E * b, E, q + E * b, dx + b, sx + E / 16 * b, bs + E / 16 * b);
  }
}

template <dtype T>
float row_dot(const char* wr, int k, const x_row& xr) {
  constexpr int E = block_elems(T);
  constexpr size_t B = block_bytes(T);
  float S[16], C[16];
  uint8_t u[32];
  float y = 0;
  for (int b = 0; b < k / E; b++) {
    const char* blk = wr + size_t(b) * B;
    quant::block_scales<T>(blk, S, C, f16_to_f32);
    for (int j = 0; j < E / 32; j++) {
      quant::subblock_codes<T>(blk, j, u);
      const int8_t* q = xr.q + b * E + 32 * j;
      const int xb = b * (E / 32) + j;
      for (int h = 0; h < 2; h++) {  // q8_0 / q4_0: exact Σ (signed value)·q as llama.cpp (C unused); k-quants: − C·sx
        int s = 0;
        for (int l = 16 * h; l < 16 * h + 16; l++) s += (T == dtype::q8_0 ? int(int8_t(u[l])) : T == dtype::q4_0 ? int(u[l]) - 8 : int(u[l])) * int(q[l]);
        y += S[2 * j + h] * xr.dx[b] * float(s) - (E == 32 ? 0 : C[2 * j + h] * xr.sx[2 * xb + h]);
      }
    }
  }
  return y;
}

template <dtype T>
void matmul_t(const float* x, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch) {
  char* xq = reinterpret_cast<char*>(scratch);
  const size_t rb = row_bytes(T, k);
  for (int t0 = 0; t0 < n; t0 += quant_x_chunk) {
    const int nt = std::min(quant_x_chunk, n - t0);
    quantize_x_rows(x + size_t(t0) * k, nt, k, block_elems(T), xq);
    for (int r = r0; r < r1; r++) {
      const char* wr = static_cast<const char*>(w) + size_t(r) * rb;
      for (int t = 0; t < nt; t++) y[size_t(t0 + t) * ldy + r] = row_dot<T>(wr, k, quant::x_row_at(xq, k, t));
    }
  }
}

template <dtype T>
void to_f32_t(const void* src, float* dst, size_t n) {
  constexpr int E = block_elems(T);
  float S[16], C[16];
  uint8_t u[32];
  for (size_t b = 0; b < n / E; b++) {
    const char* blk = static_cast<const char*>(src) + b * block_bytes(T);
    quant::block_scales<T>(blk, S, C, f16_to_f32);
    for (int j = 0; j < E / 32; j++) {
      quant::subblock_codes<T>(blk, j, u);
      for (int l = 0; l < 32; l++) {
        const int g = 2 * j + l / 16;
        // as ggml's dequantize_row_*: q8_0 d·q, q6_k (d·sc)·(u − 32), q4_0 d·(u − 8), q4_k / q5_k (d·sc)·u − dmin·m
        dst[b * E + 32 * j + l] = T == dtype::q8_0 ? S[g] * float(int8_t(u[l])) : T == dtype::q6_k ? S[g] * float(int(u[l]) - 32) : T == dtype::q4_0 ? S[g] * float(int(u[l]) - 8) : S[g] * float(u[l]) - C[g];
      }
    }
  }
}

}  // namespace

#define RESIDENT_QUANT_SWITCH(t, fn, ...)                 \
  switch (t) {                                            \
    case dtype::q8_0: return fn<dtype::q8_0>(__VA_ARGS__); \
    case dtype::q4_0: return fn<dtype::q4_0>(__VA_ARGS__); \
    case dtype::q4_k: return fn<dtype::q4_k>(__VA_ARGS__); \
    case dtype::q5_k: return fn<dtype::q5_k>(__VA_ARGS__); \
    case dtype::q6_k: return fn<dtype::q6_k>(__VA_ARGS__); \
    default: return;                                      \
  }

void quant_matmul_portable(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch) {
  RESIDENT_QUANT_SWITCH(wt, matmul_t, x, n, k, w, r0, r1, y, ldy, scratch)
}

void quant_to_f32(const void* src, dtype t, float* dst, size_t n) { RESIDENT_QUANT_SWITCH(t, to_f32_t, src, dst, n) }

}  // namespace resident
