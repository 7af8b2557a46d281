// Checks of state_slot's layout and recurrent-state rules on a hybrid shape (no JS model can make one yet).
// Build and run from the repository root (one line):
//   g++ -std=c++17 -O1 -Wall -Wextra engine/native/tests/state-slot-test.cpp engine/native/state-slot.cpp
//       engine/native/alloc-counter.cpp -o /tmp/state-slot-test && /tmp/state-slot-test
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../state-slot.h"
#include "check.h"

using namespace resident;

// n_layer layers, every `every`-th (from layer every - 1) attention, the others linear attention.
static state_shape hybrid(int n_layer, int every, int n_kv_head, int head_dim, size_t rec_floats) {
  state_shape s;
  s.n_kv_head = n_kv_head;
  s.head_dim = head_dim;
  for (int l = 0; l < n_layer; l++) {
    const bool kv = l % every == every - 1;
    s.kv_layer.push_back(kv ? s.n_kv_layer++ : -1);
    s.recurrent_layer.push_back(kv ? -1 : s.n_recurrent_layer++);
  }
  s.recurrent_floats = s.n_recurrent_layer ? rec_floats : 0;
  return s;
}

static std::vector<float> state_of(const state_slot& s) {
  std::vector<float> v(s.state_bytes() / 4);
  CHECK(s.read_state(v.data()));
  return v;
}

static std::vector<float> pattern(size_t n, float seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = seed + float(i % 97);
  return v;
}

static bool all_zero(const std::vector<float>& v) {
  for (float f : v)
    if (f != 0.0f) return false;
  return true;
}

int main() {
  const state_shape shape = hybrid(8, 4, 2, 64, 3 * 40 + 4 * 16 * 16);  // layers 3 and 7 attention
  CHECK(shape.n_kv_layer == 2 && shape.n_recurrent_layer == 6);
  state_slot *a = nullptr, *b = nullptr;
  CHECK(state_slot::create(shape, 1000, dtype::bf16, &a));
  CHECK(state_slot::create(shape, 1000, dtype::bf16, &b));

  // Layout: KV only for the attention layers, in layer order; the blobs after them.
  CHECK(a->bytes_per_token() == size_t(2) * 2 * 2 * 64 * 2);
  CHECK(a->region(3, 0, 0) < a->region(7, 0, 0));
  CHECK(a->region(3, 1, 1) + 4096 <= a->region(7, 0, 0));
  CHECK(reinterpret_cast<char*>(a->recurrent(0)) > a->region(7, 1, 1));
  CHECK(a->recurrent(1) != a->recurrent(2));
  CHECK(a->state_bytes() == 6 * shape.recurrent_floats * 4);

  // A fresh slot: the zero state of position 0.
  CHECK(a->state_current() && a->state_position() == 0);
  CHECK(all_zero(state_of(*a)));

  // KV written alone leaves the state stale until a state for that length arrives.
  std::vector<uint8_t> kv(a->range_bytes(10));
  for (size_t i = 0; i < kv.size(); i++) kv[i] = uint8_t(i * 7);
  CHECK(a->write_range(0, 10, kv.data()));
  CHECK(a->length == 10 && !a->state_current());
  const std::vector<float> s10 = pattern(a->state_bytes() / 4, 1.0f);
  CHECK(a->write_state(10, s10.data()));
  CHECK(a->state_current() && state_of(*a) == s10);
  std::vector<uint8_t> back(kv.size());
  CHECK(a->read_range(0, 10, back.data()) && back == kv);

  // A forward advances KV and state together.
  a->prepare_state();
  a->recurrent(0)[0] = 42.0f;
  a->advance(5);
  CHECK(a->length == 15 && a->state_current() && a->state_position() == 15 && a->tokens_forwarded == 5);
  const std::vector<float> s15 = state_of(*a);
  CHECK(s15[0] == 42.0f);

  // Copies carry the state only when the source's belongs to n.
  CHECK(b->copy_from(*a, 15));
  CHECK(b->length == 15 && b->state_current() && state_of(*b) == s15);
  CHECK(b->copy_from(*a, 12));
  CHECK(b->length == 12 && !b->state_current() && b->state_position() == state_slot::no_position);

  // Truncation to another length makes it stale; a state for the new length makes it current.
  CHECK(a->truncate(12));
  CHECK(!a->state_current() && a->state_position() == 15);
  CHECK(a->write_state(12, s10.data()) && a->state_current());
  CHECK(!a->write_state(1001, s10.data()));  // beyond capacity

  // recycle() and truncate(0): the zero state of position 0, written lazily.
  a->recycle();
  CHECK(a->length == 0 && a->state_current() && all_zero(state_of(*a)));
  CHECK(a->recurrent(0)[0] != 0.0f);  // not yet cleared ...
  a->prepare_state();
  CHECK(a->recurrent(0)[0] == 0.0f);  // ... until a forward prepares it
  CHECK(b->truncate(0) && b->state_current() && all_zero(state_of(*b)));
  CHECK(a->copy_from(*b, 0) && a->state_current() && all_zero(state_of(*a)));
  CHECK(a->committed_bytes() > 0);

  // Without linear-attention layers: no state, never stale.
  state_slot* q = nullptr;
  CHECK(state_slot::create(hybrid(4, 1, 2, 64, 0), 100, dtype::f32, &q));
  CHECK(q->state_bytes() == 0 && !q->has_recurrent());
  CHECK(q->write_range(0, 3, std::vector<uint8_t>(q->range_bytes(3)).data()));
  CHECK(q->truncate(2) && q->state_current());
  CHECK(!q->write_state(2, nullptr));
  CHECK(!b->copy_from(*q, 0));  // another shape

  delete a;
  delete b;
  delete q;
  std::printf(failures ? "%d failures\n" : "state slot: all checks passed\n", failures);
  return failures ? 1 : 0;
}
