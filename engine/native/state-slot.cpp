#include "state-slot.h"

#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace resident {

static const size_t page_size = size_t(sysconf(_SC_PAGESIZE));

static size_t round_to_page(size_t bytes) { return (bytes + page_size - 1) / page_size * page_size; }

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

result state_slot::create(const state_shape& shape, size_t capacity, dtype t, state_slot** out) {
  if (capacity == 0) return result::fail(status::argument_error, "slot capacity must be at least 1 position");
  auto* s = new state_slot(shape, capacity, t);
  s->kv_region_bytes_ = round_to_page(capacity * size_t(shape.head_dim) * dtype_size(t));  // each head region starts on a page
  s->recurrent_offset_ = s->kv_region_bytes_ * size_t(shape.n_kv_layer) * 2 * size_t(shape.n_kv_head);
  s->recurrent_bytes_ = round_to_page(shape.recurrent_floats * 4);
  s->mapped_bytes_ = s->recurrent_offset_ + s->recurrent_bytes_ * size_t(shape.n_recurrent_layer);
  void* p = s->mapped_bytes_ ? mmap(nullptr, s->mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                             : MAP_FAILED;
  if (p == MAP_FAILED) {
    size_t gib = s->mapped_bytes_ >> 30;
    delete s;
    return result::fail(status::capacity_error, "cannot reserve address space for a state slot of " +
                                                    std::to_string(capacity) + " positions (" + std::to_string(gib) + " GiB)");
  }
  madvise(p, s->mapped_bytes_, MADV_NOHUGEPAGE);
  s->base_ = static_cast<char*>(p);  // fresh anonymous pages read as zeros: the zero state of position 0
  *out = s;
  return result::ok();
}

state_slot::~state_slot() {
  if (base_) munmap(base_, mapped_bytes_);
}

size_t state_slot::committed_bytes() const {
  const size_t per_region = round_to_page(high_water_ * size_t(shape.head_dim) * dtype_size(type));
  return per_region * size_t(shape.n_kv_layer) * 2 * size_t(shape.n_kv_head) +
         (state_touched_ ? recurrent_bytes_ * size_t(shape.n_recurrent_layer) : 0);
}

void state_slot::note_written(size_t end) {
  if (end > high_water_) high_water_ = end;
}

void state_slot::zero_state_pending() {
  state_pos_ = 0;
  zero_pending_ = has_recurrent();
}

void state_slot::prepare_state() {
  if (!zero_pending_) return;
  for (int j = 0; j < shape.n_recurrent_layer; j++) std::memset(recurrent_blob(j), 0, shape.recurrent_floats * 4);
  zero_pending_ = false;
  state_touched_ = true;
}

result state_slot::truncate(size_t n) {
  if (n > length) return result::fail(status::capacity_error, "cannot truncate a slot of " + std::to_string(length) +
                                                                  " positions to " + std::to_string(n));
  length = n;
  if (n == 0) zero_state_pending();
  // Give back whole pages past the cut so long-lived slots that shrink release memory.
  const size_t row = size_t(shape.head_dim) * dtype_size(type);
  const size_t keep = round_to_page(n * row), used = round_to_page(high_water_ * row);
  if (used > keep) {
    for (int i = 0; i < shape.n_kv_layer; i++)
      for (int kv = 0; kv < 2; kv++)
        for (int h = 0; h < shape.n_kv_head; h++) madvise(kv_region(i, kv, h) + keep, used - keep, MADV_DONTNEED);
    high_water_ = keep / row;
  }
  return result::ok();
}

void state_slot::recycle() {
  length = 0;
  tokens_forwarded = 0;
  zero_state_pending();
}

result state_slot::copy_from(const state_slot& src, size_t n) {
  if (src.shape != shape || src.type != type)
    return result::fail(status::argument_error, "cannot copy between state slots of different shape or dtype");
  if (n > src.length) return result::fail(status::capacity_error, "source slot holds only " + std::to_string(src.length) + " positions");
  if (n > capacity) return result::fail(status::capacity_error, "target slot capacity " + std::to_string(capacity) + " < " + std::to_string(n));
  const size_t bytes = n * size_t(shape.head_dim) * dtype_size(type);
  if (length > n) truncate(n);
  for (int i = 0; i < shape.n_kv_layer; i++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++) {
        populate(kv_region(i, kv, h), bytes);
        std::memcpy(kv_region(i, kv, h), src.kv_region(i, kv, h), bytes);
      }
  note_written(n);
  length = n;
  if (has_recurrent()) {
    if (src.state_pos_ != n) {
      state_pos_ = no_position;  // stale until a state for n is written
      zero_pending_ = false;
    } else if (src.zero_pending_) {
      zero_state_pending();
    } else {
      for (int j = 0; j < shape.n_recurrent_layer; j++) std::memcpy(recurrent_blob(j), src.recurrent_blob(j), shape.recurrent_floats * 4);
      state_pos_ = n;
      zero_pending_ = false;
      state_touched_ = true;
    }
  }
  return result::ok();
}

result state_slot::read_range(size_t start, size_t end, void* dst) const {
  if (start > end || end > length)
    return result::fail(status::capacity_error, "KV range [" + std::to_string(start) + ", " + std::to_string(end) +
                                                    ") is outside the slot's " + std::to_string(length) + " positions");
  const size_t row = size_t(shape.head_dim) * dtype_size(type), bytes = (end - start) * row;
  char* d = static_cast<char*>(dst);
  for (int i = 0; i < shape.n_kv_layer; i++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++, d += bytes) std::memcpy(d, kv_region(i, kv, h) + start * row, bytes);
  return result::ok();
}

result state_slot::write_range(size_t start, size_t n, const void* src) {
  if (start > length) return result::fail(status::capacity_error, "KV write at " + std::to_string(start) + " leaves a gap after " + std::to_string(length) + " positions");
  if (start + n > capacity) return result::fail(status::capacity_error, "KV write of " + std::to_string(n) + " positions at " + std::to_string(start) + " exceeds capacity " + std::to_string(capacity));
  const size_t row = size_t(shape.head_dim) * dtype_size(type), bytes = n * row;
  const char* s = static_cast<const char*>(src);
  for (int i = 0; i < shape.n_kv_layer; i++)
    for (int kv = 0; kv < 2; kv++)
      for (int h = 0; h < shape.n_kv_head; h++, s += bytes) {
        populate(kv_region(i, kv, h) + start * row, bytes);
        std::memcpy(kv_region(i, kv, h) + start * row, s, bytes);
      }
  note_written(start + n);
  length = start + n;
  return result::ok();
}

result state_slot::read_state(void* dst) const {
  char* d = static_cast<char*>(dst);
  const size_t bytes = shape.recurrent_floats * 4;
  for (int j = 0; j < shape.n_recurrent_layer; j++, d += bytes) {
    if (zero_pending_) std::memset(d, 0, bytes);
    else std::memcpy(d, recurrent_blob(j), bytes);
  }
  return result::ok();
}

result state_slot::write_state(size_t position, const void* src) {
  if (!has_recurrent()) return result::fail(status::argument_error, "this model has no recurrent state to write");
  if (position > capacity)
    return result::fail(status::capacity_error, "a state for position " + std::to_string(position) + " exceeds capacity " + std::to_string(capacity));
  const char* s = static_cast<const char*>(src);
  const size_t bytes = shape.recurrent_floats * 4;
  for (int j = 0; j < shape.n_recurrent_layer; j++, s += bytes) {
    populate(reinterpret_cast<char*>(recurrent_blob(j)), bytes);
    std::memcpy(recurrent_blob(j), s, bytes);
  }
  state_pos_ = position;
  zero_pending_ = false;
  state_touched_ = true;
  return result::ok();
}

void state_slot::advance(size_t n) {
  note_written(length + n);
  length += n;
  tokens_forwarded += uint64_t(n);
  if (has_recurrent()) {
    state_pos_ = length;
    state_touched_ = true;
  }
}

}  // namespace resident
