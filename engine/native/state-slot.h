// A state slot: one sequence's whole model state, reserved for `capacity` positions in one MAP_NORESERVE mapping
// and committed as it is written.
//   KV regions, attention layers only: region (KV layer i, kv, head) starts at ((i * 2 + kv) * n_kv_head + head)
//     * kv_region_bytes; inside it, position p occupies elements [p * head_dim, (p + 1) * head_dim) of `type`.
//     kv: 0 = K, 1 = V; i counts the attention layers in layer order (shape.kv_layer maps a layer to it).
//   Recurrent blobs, linear-attention layers only, after the KV regions: blob j (j counts those layers in layer
//     order, shape.recurrent_layer maps a layer to it) is recurrent_floats f32, page aligned, not growing with
//     positions. It holds the state after some position, state_position(): usable when that equals length.
// Raw formats: a KV range is [KV layer][kv][head][pos in range][head_dim] in `type`; the state is
// [recurrent layer][recurrent_floats] f32.
#pragma once
#include <cstddef>
#include <vector>

#include "common.h"

namespace resident {

struct state_shape {
  int n_kv_head = 0, head_dim = 0;
  size_t recurrent_floats = 0;       // per linear-attention layer
  std::vector<int> kv_layer;         // [n_layer]: index among the attention layers, or -1
  std::vector<int> recurrent_layer;  // [n_layer]: index among the linear-attention layers, or -1
  int n_kv_layer = 0, n_recurrent_layer = 0;
  bool operator==(const state_shape& o) const {
    return n_kv_head == o.n_kv_head && head_dim == o.head_dim && recurrent_floats == o.recurrent_floats &&
           kv_layer == o.kv_layer && recurrent_layer == o.recurrent_layer;
  }
  bool operator!=(const state_shape& o) const { return !(*this == o); }
};

class state_slot {
 public:
  static constexpr size_t no_position = SIZE_MAX;  // state_position() of a recurrent state of no known position

  static result create(const state_shape& shape, size_t capacity, dtype t, state_slot** out);
  ~state_slot();

  const state_shape shape;
  const size_t capacity;
  const dtype type;               // of the KV regions (recurrent blobs are f32)
  size_t length = 0;              // positions [0, length) are valid
  uint64_t tokens_forwarded = 0;  // positions this slot's forward passes computed (not copies or restores)

  // ---- KV
  size_t bytes_per_token() const { return size_t(shape.n_kv_layer) * 2 * shape.n_kv_head * shape.head_dim * dtype_size(type); }
  // Start of (layer, kv, head)'s region: [capacity][head_dim] elements of `type`. `layer` is a model layer with KV.
  char* region(int layer, int kv, int head) const { return kv_region(shape.kv_layer[size_t(layer)], kv, head); }
  size_t committed_bytes() const;  // page-granular high-water estimate of touched memory
  result truncate(size_t n);       // n <= length; KV pages past the cut are given back; see the state rules below
  void recycle();                  // length and tokens_forwarded to 0, a zero state; committed pages kept for the next writes
  // Positions [0, n) of src (same shape and dtype). The recurrent state comes along when src's belongs to n.
  result copy_from(const state_slot& src, size_t n);
  result read_range(size_t start, size_t end, void* dst) const;  // KV of positions [start, end)
  result write_range(size_t start, size_t n, const void* src);   // KV of positions [start, start + n); length = start + n
  size_t range_bytes(size_t n) const { return n * bytes_per_token(); }

  // ---- Recurrent state. Rules: a fresh slot, recycle() and truncate(0) give the zero state of position 0;
  // forward() advances it with length; truncate(n) to another length, write_range and a copy_from whose source
  // state is not at n leave it stale (state_position() != length) until write_state(length, …); forward refuses
  // a stale slot. Without linear-attention layers there is no state and the slot is never stale.
  bool has_recurrent() const { return shape.n_recurrent_layer > 0; }
  size_t state_bytes() const { return size_t(shape.n_recurrent_layer) * shape.recurrent_floats * 4; }
  size_t state_position() const { return state_pos_; }
  bool state_current() const { return !has_recurrent() || state_pos_ == length; }
  // `layer`'s blob, [recurrent_floats] f32; `layer` is a model layer with recurrent state. Call prepare_state() first.
  float* recurrent(int layer) const { return recurrent_blob(shape.recurrent_layer[size_t(layer)]); }
  void prepare_state();  // before a forward reads the blobs: writes the pending zero state, if any
  result read_state(void* dst) const;                   // state_bytes() bytes
  result write_state(size_t position, const void* src);  // state_bytes() bytes: the state after `position` positions

  // A forward pass wrote positions [length, length + n): KV and, with recurrent layers, the state after them.
  void advance(size_t n);

 private:
  state_slot(const state_shape& s, size_t cap, dtype t) : shape(s), capacity(cap), type(t) {}
  char* kv_region(int i, int kv, int head) const {
    return base_ + ((size_t(i) * 2 + size_t(kv)) * shape.n_kv_head + size_t(head)) * kv_region_bytes_;
  }
  float* recurrent_blob(int j) const { return reinterpret_cast<float*>(base_ + recurrent_offset_ + size_t(j) * recurrent_bytes_); }
  void note_written(size_t end);  // KV positions below `end` were written (memory accounting only)
  void zero_state_pending();      // the state becomes the zero state of position 0, written lazily

  char* base_ = nullptr;
  size_t kv_region_bytes_ = 0, recurrent_offset_ = 0, recurrent_bytes_ = 0, mapped_bytes_ = 0, high_water_ = 0;
  size_t state_pos_ = 0;
  bool zero_pending_ = false;  // the blobs must read as zeros but may hold an older state
  bool state_touched_ = false;  // the blobs were ever written (memory accounting)
};

}  // namespace resident
