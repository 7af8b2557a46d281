// A KV slot: one sequence's keys and values, reserved for `capacity` positions and committed lazily.
// Memory: region (layer, kv, head) at ((layer * 2 + kv) * n_kv_head + head) * capacity * head_dim elements;
// inside a region, position p occupies elements [p * head_dim, (p + 1) * head_dim). kv: 0 = K, 1 = V.
#pragma once
#include <cstddef>

#include "common.h"

namespace resident {

struct kv_shape {
  int n_layer, n_kv_head, head_dim;
};

class kv_slot {
 public:
  static result create(const kv_shape& shape, size_t capacity, dtype t, kv_slot** out);
  ~kv_slot();

  const kv_shape shape;
  const size_t capacity;
  const dtype type;
  size_t length = 0;  // positions [0, length) are valid
  uint64_t tokens_forwarded = 0;  // positions this slot's forward passes computed (not copies or restores)

  size_t bytes_per_token() const { return size_t(shape.n_layer) * 2 * shape.n_kv_head * shape.head_dim * dtype_size(type); }
  // Start of (layer, kv, head)'s region: [capacity][head_dim] elements of `type`.
  char* region(int layer, int kv, int head) const {
    size_t idx = (size_t(layer) * 2 + size_t(kv)) * shape.n_kv_head + size_t(head);
    return base_ + idx * region_bytes_;
  }
  size_t committed_bytes() const;  // page-granular high-water estimate of touched memory
  void note_written(size_t end);   // positions below `end` were written (memory accounting only)
  result truncate(size_t n);       // n <= length; pages past the cut are given back
  void recycle();                  // length and tokens_forwarded to 0; committed pages kept for the next writes
  result copy_from(const kv_slot& src, size_t n);
  // Raw range I/O: [layer][kv][head][pos in range][head_dim] in `type`.
  result read_range(size_t start, size_t end, void* dst) const;
  result write_range(size_t start, size_t n, const void* src);
  size_t range_bytes(size_t n) const { return n * bytes_per_token(); }

 private:
  kv_slot(const kv_shape& s, size_t cap, dtype t) : shape(s), capacity(cap), type(t) {}
  char* base_ = nullptr;
  size_t region_bytes_ = 0, mapped_bytes_ = 0, high_water_ = 0;
};

}  // namespace resident
