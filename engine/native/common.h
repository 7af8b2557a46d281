// Shared types of the native engine: dtypes, scalar conversions, aligned buffers, status codes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace resident {

enum class dtype : int { f32 = 0, f16 = 1, bf16 = 2 };

constexpr size_t dtype_size(dtype t) { return t == dtype::f32 ? 4 : 2; }

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

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Counts heap allocations made by engine code on threads doing forward work (see alloc-counter.cpp):
// pool workers always count; the thread running a forward sets t_count_allocations for its duration.
extern thread_local bool t_count_allocations;
extern std::atomic<uint64_t> g_forward_allocations;
uint64_t alloc_counter_probe();

// 64-byte aligned zeroed buffer owned by the engine (allocated at load, never per token).
void* aligned_alloc_zero(size_t bytes);
void aligned_free(void* p);

}  // namespace resident
