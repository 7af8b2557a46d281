#include "kv-slot.h"

#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace resident {

static const size_t page_size = size_t(sysconf(_SC_PAGESIZE));

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Commits the pages of [p, p + bytes) in one call (Linux ≥ 5.14) instead of one fault per 4 KiB page while
// bulk copies fill a region; a kernel without it returns EINVAL and the copy faults pages in as before.
static void populate(char* p, size_t bytes) {
  if (!bytes) return;
  char* a = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(page_size) - 1));
  madvise(a, size_t(p + bytes - a), MADV_POPULATE_WRITE);
}

result kv_slot::create(const kv_shape& shape, size_t capacity, dtype t, kv_slot** out) {
  if (capacity == 0) return result::fail(status::argument_error, "slot capacity must be at least 1 position");
  auto* s = new kv_slot(shape, capacity, t);
  size_t raw = capacity * size_t(shape.head_dim) * dtype_size(t);
  s->region_bytes_ = (raw + page_size - 1) / page_size * page_size;  // each head region starts on a page
  s->mapped_bytes_ = s->region_bytes_ * size_t(shape.n_layer) * 2 * size_t(shape.n_kv_head);
  void* p = mmap(nullptr, s->mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    size_t gib = s->mapped_bytes_ >> 30;
    delete s;
    return result::fail(status::capacity_error, "cannot reserve address space for a KV slot of " +
                                                    std::to_string(capacity) + " positions (" + std::to_string(gib) + " GiB)");
  }
  madvise(p, s->mapped_bytes_, MADV_NOHUGEPAGE);
  s->base_ = static_cast<char*>(p);
  *out = s;
  return result::ok();
}

kv_slot::~kv_slot() {
  if (base_) munmap(base_, mapped_bytes_);
}

size_t kv_slot::committed_bytes() const {
  size_t per_region = (high_water_ * size_t(shape.head_dim) * dtype_size(type) + page_size - 1) / page_size * page_size;
  return per_region * size_t(shape.n_layer) * 2 * size_t(shape.n_kv_head);
}

void kv_slot::note_written(size_t end) {
  if (end > high_water_) high_water_ = end;
}

result kv_slot::truncate(size_t n) {
  if (n > length) return result::fail(status::capacity_error, "cannot truncate a slot of " + std::to_string(length) +
                                                                  " positions to " + std::to_string(n));
  length = n;
  // Give back whole pages past the cut so long-lived slots that shrink release memory.
  const size_t es = dtype_size(type), row = size_t(shape.head_dim) * es;
  size_t keep = (n * row + page_size - 1) / page_size * page_size;
  size_t used = (high_water_ * row + page_size - 1) / page_size * page_size;
  if (used > keep) {
    for (int l = 0; l < shape.n_layer; l++)
      for (int kv = 0; kv < 2; kv++)
        for (int h = 0; h < shape.n_kv_head; h++) madvise(region(l, kv, h) + keep, used - keep, MADV_DONTNEED);
    high_water_ = keep / row;
  }
  return result::ok();
}

void kv_slot::recycle() {
  length = 0;
  tokens_forwarded = 0;
}

result kv_slot::copy_from(const kv_slot& src, size_t n) {
  if (src.shape.n_layer != shape.n_layer || src.shape.n_kv_head != shape.n_kv_head ||
      src.shape.head_dim != shape.head_dim || src.type != type)
    return result::fail(status::argument_error, "cannot copy between KV slots of different shape or dtype");
  if (n > src.length) return result::fail(status::capacity_error, "source slot holds only " + std::to_string(src.length) + " positions");
  if (n > capacity) return result::fail(status::capacity_error, "target slot capacity " + std::to_string(capacity) + " < " + std::to_string(n));
  const size_t bytes = n * size_t(shape.head_dim) * dtype_size(type);
  if (length > n) truncate(n);
  for (int l = 0; l < shape.n_layer; l++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++) {
        populate(region(l, kv, h), bytes);
        std::memcpy(region(l, kv, h), src.region(l, kv, h), bytes);
      }
  note_written(n);
  length = n;
  return result::ok();
}

result kv_slot::read_range(size_t start, size_t end, void* dst) const {
  if (start > end || end > length)
    return result::fail(status::capacity_error, "KV range [" + std::to_string(start) + ", " + std::to_string(end) +
                                                    ") is outside the slot's " + std::to_string(length) + " positions");
  const size_t row = size_t(shape.head_dim) * dtype_size(type), bytes = (end - start) * row;
  char* d = static_cast<char*>(dst);
  for (int l = 0; l < shape.n_layer; l++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++, d += bytes) std::memcpy(d, region(l, kv, h) + start * row, bytes);
  return result::ok();
}

result kv_slot::write_range(size_t start, size_t n, const void* src) {
  if (start > length) return result::fail(status::capacity_error, "KV write at " + std::to_string(start) + " leaves a gap after " + std::to_string(length) + " positions");
  if (start + n > capacity) return result::fail(status::capacity_error, "KV write of " + std::to_string(n) + " positions at " + std::to_string(start) + " exceeds capacity " + std::to_string(capacity));
  const size_t row = size_t(shape.head_dim) * dtype_size(type), bytes = n * row;
  const char* s = static_cast<const char*>(src);
  for (int l = 0; l < shape.n_layer; l++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++, s += bytes) {
        populate(region(l, kv, h) + start * row, bytes);
        std::memcpy(region(l, kv, h) + start * row, s, bytes);
      }
  note_written(start + n);
  length = start + n;
  return result::ok();
}

}  // namespace resident
