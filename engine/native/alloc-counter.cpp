// Heap-allocation accounting: this addon's own operator new/delete (bound inside the addon by
// -Bsymbolic; the addon is loaded RTLD_LOCAL) count allocations made on threads doing forward work.
// Steady-state forward must add zero.
#include <cstdlib>
#include <new>

#include "common.h"

namespace resident {
thread_local bool t_count_allocations = false;
std::atomic<uint64_t> g_forward_allocations{0};

void* aligned_alloc_zero(size_t bytes) {
  if (t_count_allocations) g_forward_allocations.fetch_add(1);
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (p) std::memset(p, 0, rounded);
  return p;
}

void aligned_free(void* p) { std::free(p); }
}  // namespace resident

void* operator new(size_t n) {
  if (resident::t_count_allocations) resident::g_forward_allocations.fetch_add(1);
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (resident::t_count_allocations) resident::g_forward_allocations.fetch_add(1);
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace resident {
// Self-check of the counter: one counted allocation. Returns the counter's delta (1 when counting works).
uint64_t alloc_counter_probe() {
  const uint64_t before = g_forward_allocations.load();
  const bool prev = t_count_allocations;
  t_count_allocations = true;
  int* volatile p = new int(1);
  delete p;
  t_count_allocations = prev;
  return g_forward_allocations.load() - before;
}
}  // namespace resident
