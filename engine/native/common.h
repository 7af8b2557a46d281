// Shared types of the native engine: dtypes, scalar conversions, aligned buffers, status codes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace resident {

// q8: weights quantized at load (engine_options::int8), never KV or file tensors. A q8 row of k
// values (k % 32 == 0) is k / 32 blocks of q8_block_bytes: 32 int8 q then an f32 scale d; value = d · q.
// q8_0 … q6_k: GGUF block types with ggml's exact on-disk block layouts (file tensors, mmapped as they are; see
// quant-formats.h). A row of k values is k / block_elems(t) blocks of block_bytes(t) bytes.
enum class dtype : int { f32 = 0, f16 = 1, bf16 = 2, q8 = 3, q8_0 = 4, q4_0 = 5, q4_k = 6, q5_k = 7, q6_k = 8 };

constexpr int q8_block = 32;
constexpr size_t q8_block_bytes = q8_block + 4;
constexpr bool is_block_quant(dtype t) { return int(t) >= int(dtype::q8_0) && int(t) <= int(dtype::q6_k); }
// Values per block: 32 (q8, q8_0, q4_0), 256 (the k-quant super-blocks); 1 for float types.
constexpr int block_elems(dtype t) {
  return t == dtype::q8 || t == dtype::q8_0 || t == dtype::q4_0 ? 32 : is_block_quant(t) ? 256 : 1;
}
// Bytes per block: q8_0 f16 d + 32 int8 = 34; q4_0 f16 d + 16 nibble bytes = 18; q4_k f16 d, f16 dmin, 12 scale
// bytes, 128 nibble bytes = 144; q5_k q4_k + 32 high-bit bytes = 176; q6_k 128 ql + 64 qh + 16 int8 scales + f16 d = 210.
constexpr size_t block_bytes(dtype t) {
  switch (t) {
    case dtype::f32: return 4;
    case dtype::f16: case dtype::bf16: return 2;
    case dtype::q8: return q8_block_bytes;
    case dtype::q8_0: return 34;
    case dtype::q4_0: return 18;
    case dtype::q4_k: return 144;
    case dtype::q5_k: return 176;
    case dtype::q6_k: return 210;
  }
  return 0;
}
constexpr size_t dtype_size(dtype t) { return t == dtype::f32 ? 4 : t == dtype::q8 ? 1 : 2; }  // float/KV types; q8: the int8 alone
// Bytes of one row of k values in dtype t (block types: k % block_elems(t) == 0, with their scales).
constexpr size_t row_bytes(dtype t, int k) {
  return t == dtype::q8 || is_block_quant(t) ? size_t(k) / size_t(block_elems(t)) * block_bytes(t) : size_t(k) * dtype_size(t);
}
// Byte offset of element i inside a row (q8: of its int8 q; the block's scale is at block start + 32).
constexpr size_t elem_offset(dtype t, size_t i) {
  return t == dtype::q8 ? i / q8_block * q8_block_bytes + i % q8_block : i * dtype_size(t);
}

// Status codes crossing into TS; engine/native.ts maps them to named errors.
enum class status : int {
  ok = 0,
  load_error = 1,       // file/tensor problem (message names it)
  unsupported = 2,      // architecture/dtype/shape not supported
  argument_error = 3,   // bad call arguments
  capacity_error = 4,   // KV slot capacity exceeded / bad position
  disposed = 5,
  internal_error = 6,
};

struct result {
  status code = status::ok;
  std::string message;
  static result ok() { return {}; }
  static result fail(status c, std::string m) { return {c, std::move(m)}; }
  explicit operator bool() const { return code == status::ok; }
};

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {  // round to nearest even; NaN stays NaN
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// Start of the q8 block holding element i of a row; its scale is q8_scale(block).
inline const char* q8_block_at(const void* row, size_t i) { return static_cast<const char*>(row) + i / q8_block * q8_block_bytes; }
inline float q8_scale(const char* block) {
  float d;
  std::memcpy(&d, block + q8_block, 4);
  return d;
}
// Element i of a q8 row.
inline float q8_value(const void* row, size_t i) {
  const char* b = q8_block_at(row, i);
  return q8_scale(b) * float(static_cast<const int8_t*>(static_cast<const void*>(b))[i % q8_block]);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Counts heap allocations made by engine code on threads doing forward work (see alloc-counter.cpp):
// pool workers always count; the thread running a forward sets t_count_allocations for its duration.
extern thread_local bool t_count_allocations;
extern std::atomic<uint64_t> g_forward_allocations;
uint64_t alloc_counter_probe();

// Best read rate of `threads` threads over a fresh `bytes` buffer in `reps` passes, GB/s (bandwidth.cpp).
result memory_read_rate(size_t bytes, int threads, int reps, double* gbps);

// 64-byte aligned zeroed buffer owned by the engine (allocated at load, never per token).
void* aligned_alloc_zero(size_t bytes);
void aligned_free(void* p);

}  // namespace resident
