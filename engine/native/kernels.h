// Kernel table: one implementation per instruction set, chosen at run time from CPUID.
#pragma once
#include <algorithm>

#include "common.h"

namespace resident {

struct kernels {
  const char* name;
  int task_rows;  // weight rows per matmul task (matmul.cpp, moe.cpp): a multiple of this level's panel width
  // y[t*ldy + r] = sum_i x[t*k + i] * w[r*k + i], t < n, r0 <= r < r1. w: [rows][k] in dtype wt.
  // scratch: at least matmul_scratch_floats(k) floats, private to the calling thread.
  void (*matmul)(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy,
                 float* scratch);
  void (*to_f32)(const void* src, dtype t, float* dst, size_t n);
  void (*from_f32)(const float* src, dtype t, void* dst, size_t n);
  float (*dot)(const float* a, const float* b, int n);
  void (*axpy)(float* y, float a, const float* x, int n);  // y += a * x
  void (*scale)(float* y, float a, int n);                 // y *= a
  float (*sum_sq)(const float* x, int n);
  void (*scale_mul)(float* y, const float* x, const float* w, float s, int n);  // y = x * s * w
  void (*silu_mul)(float* g, const float* u, int n);                          // g = silu(g) * u
  float (*exp_sum)(float* x, int n, float sub);                               // x = exp(x - sub); returns sum
  float (*max)(const float* x, int n);                                        // max of x[0, n), n >= 1 (no NaN)
  float (*keep_sum)(const float* x, int n, float cut, float* out);            // Σ x ≥ cut; out (null or x): x ≥ cut ? x : 0
  // out[r * ldo + d] += sum_{i < n} p[r * ldp + i] * v[i * hd + d], r < rows, d < hd; v: [n][hd] in dtype vt
  void (*attn_pv)(const float* p, int rows, int ldp, int n, const void* v, dtype vt, int hd, float* out, int ldo);
  // Like matmul for bf16 weights and bf16 activations xb: [n][k], k % 32 == 0 (vdpbf16ps); nullptr on levels
  // or CPUs without it, where bf16 activations run as f32 values rounded to bf16 through matmul.
  void (*matmul_bf16)(const uint16_t* xb, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch);
  // bf16 panels packed once at load (bf16 activations): pack_bf16 writes panels [p0, p1) of w: [rows][k] to wp,
  // panel p = rows [32p, 32p + 32) (zero beyond rows) as k / 2 × 32 lanes, each lane the pair (w[r][2i], w[r][2i + 1]);
  // matmul_bf16_packed is matmul_bf16 on them, r0 % 32 == 0. Both nullptr where matmul_bf16 is.
  void (*pack_bf16)(const uint16_t* w, int rows, int k, int p0, int p1, void* wp);
  void (*matmul_bf16_packed)(const uint16_t* xb, int n, int k, const void* wp, int rows, int r0, int r1, float* y, int ldy);
  // attn_pv for bf16 p: [rows][ldp] (ldp even; p[r][n] zero when n is odd) and bf16 v: [n][hd], hd % 32 == 0;
  // scratch: attn_pv_bf16_scratch_floats(n, hd). nullptr where matmul_bf16 is.
  void (*attn_pv_bf16)(const uint16_t* p, int rows, int ldp, int n, const uint16_t* v, int hd, float* out, int ldo, void* scratch);
  // Block-quant prefill for the weight types in quant_panel_types (bit int(dtype)); nullptr / 0 on portable.
  // quant_panel_x writes rows x: [n][k] as quant::xp_row, panel_x_row_bytes(k) apart — the 8-bit blocks of E values of
  // quantize_x_block with their sums. quant_matmul_panel is matmul on them (llama.cpp's integers) through weight panels
  // of unsigned codes built once per call: vpdpbusd on AVX-512 VNNI (kernels-quant-panel.cpp, every block type),
  // vpmaddubsw on AVX2 and AVX-512 without VNNI (kernels-quant-panel-avx2.cpp, q4_0 and the k-quants).
  void (*quant_panel_x)(const float* x, int n, int k, int E, void* out);
  void (*quant_matmul_panel)(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);
  unsigned quant_panel_types;
};
// Whether quant_matmul_panel takes weights of type t on level k.
inline bool quant_panel_takes(const kernels& k, dtype t) { return k.quant_matmul_panel && (k.quant_panel_types >> int(t) & 1u); }
constexpr unsigned dtype_bit(dtype t) { return 1u << int(t); }
constexpr unsigned block_quant_types = dtype_bit(dtype::q8_0) | dtype_bit(dtype::q4_0) | dtype_bit(dtype::q4_k) | dtype_bit(dtype::q5_k) | dtype_bit(dtype::q6_k);
// quant::xp_row_bytes(k) (its q, dx, sx, bs, b32), 64-byte aligned.
constexpr size_t panel_x_row_bytes(int k) { return (size_t(k) + size_t(k) / 32 * 6 + size_t(k) / 16 * 6 + 63) / 64 * 64; }
// Tokens from which block-quant matmuls take quant_matmul_panel (a panel is built once per call, read by every token).
constexpr int quant_panel_min_tokens = 32;
inline size_t attn_pv_bf16_scratch_floats(int n, int hd) { return size_t(n + 1) / 2 * size_t(hd) + 16; }
constexpr int bf16_panel_rows = 32;  // rows per packed bf16 panel (pack_bf16)
inline size_t bf16_packed_bytes(int rows, int k) { return size_t(rows + bf16_panel_rows - 1) / bf16_panel_rows * bf16_panel_rows * size_t(k) * 2; }

constexpr int matmul_row_block = 4;
constexpr int matmul_panel_k = 256;     // K block of the packed-panel (prefill) path
constexpr int matmul_panel_rows = 16;   // rows per packed panel (AVX2)
constexpr int matmul_panel_rows_max = 32;  // widest packed panel of any level (AVX-512: 2 zmm)
constexpr int matmul_tile_tokens_max = 16;  // largest n of a row-tile path that stages x in scratch (AVX-512)
inline size_t matmul_scratch_floats(int k) {
  const size_t dot = size_t(matmul_row_block) * size_t(k), panel = size_t(matmul_panel_k) * matmul_panel_rows_max;
  const size_t tile = size_t(matmul_tile_tokens_max) * (size_t(k + 31) / 32 * 32) + size_t(k);  // + quant panel scales
  return std::max(std::max(dot, panel), tile) + 64;
}

// Weight rows per thread-pool task of an n-token matmul: the level's panel width for the panel path;
// for n <= matmul_tile_tokens_max (row tiles, which stage x per task) enough rows that staging stays small.
inline int matmul_task_rows(const kernels& k, int n) {
  constexpr int row_tile_task_rows = 192;  // a multiple of every level's task_rows and of 6-row tiles
  return n <= matmul_tile_tokens_max ? std::max(k.task_rows, row_tile_task_rows) : k.task_rows;
}
// Block-quant weights quantize each task's activations (kernels-quant-*.cpp): their tasks take at least this many
// rows, twice as many past a row tile's tokens (quantizing is ~10 % of a 128-row task's time at k = 1024), three
// times as many within them (decode: tasks claimed in ranges, claim_order::ranges, stay one stream per thread
// however long, and measured faster at 384 rows than at 192).
constexpr int quant_task_rows = 128;  // a multiple of every level's task_rows
inline int matmul_task_rows(const kernels& k, int n, bool block_quant) {
  if (!block_quant) return matmul_task_rows(k, n);
  return std::max(matmul_task_rows(k, n), (n > matmul_tile_tokens_max ? 2 : 3) * quant_task_rows);
}

// The one switch from a run-time dtype to a kernel template: `return fn<T>(args...)` for t == T
// (RESIDENT_KV_DTYPE_SWITCH: the KV dtypes f32, f16, bf16; q8 returns). A macro, so each kernel file's dispatch is
// the plain switch, compiled in that file's target context; a template taking a lambda gave the compiler other
// inlining choices on the hot paths (decode measurably slower).
#define RESIDENT_FLOAT_DTYPE_CASES(fn, ...)              \
  case dtype::f32: return fn<dtype::f32>(__VA_ARGS__);   \
  case dtype::f16: return fn<dtype::f16>(__VA_ARGS__);   \
  case dtype::bf16: return fn<dtype::bf16>(__VA_ARGS__);
#define RESIDENT_DTYPE_SWITCH(t, fn, ...) \
  switch (t) { RESIDENT_FLOAT_DTYPE_CASES(fn, __VA_ARGS__) case dtype::q8: return fn<dtype::q8>(__VA_ARGS__); default: return; }
#define RESIDENT_KV_DTYPE_SWITCH(t, fn, ...) \
  switch (t) { RESIDENT_FLOAT_DTYPE_CASES(fn, __VA_ARGS__) default: return; }

// dst rows [r0, r1) (q8, row_bytes(q8, k) apart) = src rows (dtype t) quantized; k % q8_block == 0 (quantize.cpp).
void q8_quantize_rows(const void* src, dtype t, int k, int r0, int r1, void* dst);

// Level kernels for block-quant weights (kernels-quant-*.cpp); same contract as kernels::matmul. k % 256 == 0 for
// the k-quants, k % 32 == 0 for q8_0 / q4_0 (weight binding guarantees whole blocks).
void quant_matmul_portable(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);
void quant_matmul_avx2(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);
void quant_matmul_avx512(const float* x, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);
// Dequantizes n values (whole blocks) of a block-quant row to f32 (embedding rows; every level).
void quant_to_f32(const void* src, dtype t, float* dst, size_t n);
bool cpu_has_avx512_vnni();
// out = row x (k values) quantized to block type t (quantize-gguf.cpp); false for another dtype or k % block_elems(t) != 0.
bool quantize_row(const float* x, int k, dtype t, void* out);
// Tokens per activation chunk: x_row_bytes(k) · this fits matmul_scratch_floats(k) floats.
constexpr int quant_x_chunk = 16;


const kernels& kernels_portable();
const kernels* kernels_avx2();    // nullptr when not compiled for this target
const kernels* kernels_avx512();  // nullptr when not compiled for this target
bool cpu_has_avx2_fma_f16c();
bool cpu_has_avx512();  // AVX-512 F/BW/VL/DQ with OS-saved zmm state, plus the AVX2 level
bool cpu_has_avx512_bf16();  // AVX512_BF16 on top of the AVX-512 level (kernels-avx512-bf16.cpp)
namespace avx512 {  // kernels::matmul_bf16 of the AVX-512 level where cpu_has_avx512_bf16(); declared without a target
void matmul_bf16(const uint16_t* xb, int n, int k, const void* w, int r0, int r1, float* y, int ldy, float* scratch);
void matmul_bf16_packed(const uint16_t* xb, int n, int k, const void* wp, int rows, int r0, int r1, float* y, int ldy);
void attn_pv_bf16(const uint16_t* p, int rows, int ldp, int n, const uint16_t* v, int hd, float* out, int ldo, void* scratch);
void pack_bf16(const uint16_t* w, int rows, int k, int p0, int p1, void* wp);
void quant_matmul_panel(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);  // where cpu_has_avx512_vnni(), on avx2::quant_panel_x's rows
}  // namespace avx512
namespace avx2 {  // the block-quant prefill panels of the AVX2 level (q4_0 and the k-quants), declared without a target
void quant_panel_x(const float* x, int n, int k, int E, void* out);
void quant_matmul_panel(const void* xq, int n, int k, const void* w, dtype wt, int r0, int r1, float* y, int ldy, float* scratch);
constexpr unsigned quant_panel_types = dtype_bit(dtype::q4_0) | dtype_bit(dtype::q4_k) | dtype_bit(dtype::q5_k) | dtype_bit(dtype::q6_k);
}  // namespace avx2

// Levels this CPU can run, best first: "avx512", "avx2", "portable" (always last).
int kernel_levels(const kernels* out[3]);
// The best level not above max_level ("auto" or empty = best available; "avx512", "avx2", "portable");
// nullptr for an unknown name. Dispatch order: avx512, then avx2, then portable.
const kernels* select_kernels(const char* max_level);

}  // namespace resident
