// Checks of thread_pool's claiming: every task of a run runs exactly once on a thread below size(), in both claim
// orders, with more threads than cores and uneven tasks; with claim_order::ranges each thread's own range runs
// front to back from its start (one ordered stream), and runs keep their tasks apart across the generation tag's
// wrap (2^20 runs). Build and run from the repository root (one line):
//   g++ -std=c++17 -O2 -pthread -Wall -Wextra engine/native/tests/thread-pool-test.cpp engine/native/thread-pool.cpp
//       engine/native/alloc-counter.cpp -o /tmp/thread-pool-test && /tmp/thread-pool-test
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "../thread-pool.h"
#include "check.h"

using namespace resident;

// One run of n tasks: each exactly once, on a valid thread; ranges: each thread's own tasks a prefix of its range, in order.
static void check_run(thread_pool& pool, int n, claim_order order, bool uneven) {
  const int T = pool.size();
  std::vector<std::atomic<int>> ran(static_cast<size_t>(n));
  for (auto& r : ran) r.store(0);
  std::vector<std::vector<int>> seq(static_cast<size_t>(T));
  std::mutex mu;
  std::atomic<int> bad_thread{0};
  pool.run(n, [&](int task, int thread) {
    if (thread < 0 || thread >= T) bad_thread++;
    ran[size_t(task)]++;
    if (uneven && task % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::lock_guard<std::mutex> lock(mu);
    if (thread >= 0 && thread < T) seq[size_t(thread)].push_back(task);
  }, order);
  CHECK(bad_thread.load() == 0);
  for (int t = 0; t < n; t++) CHECK(ran[size_t(t)].load() == 1);
  if (order != claim_order::ranges || T == 1 || n == 1) return;
  for (int t = 0; t < T; t++) {
    const int lo = int(int64_t(n) * t / T), hi = int(int64_t(n) * (t + 1) / T);
    int next = lo;  // the owner claims its range's front: lo, lo + 1, … in order; stolen tasks come from the backs
    for (int task : seq[size_t(t)])
      if (task >= lo && task < hi && task == next) next++;
    int own = 0;
    for (int task : seq[size_t(t)]) own += task >= lo && task < hi;
    CHECK(own == next - lo);  // every task of its own range it ran was the next from the front
  }
}

int main() {
  for (int threads : {1, 2, 3, 8}) {
    thread_pool pool(threads);
    for (claim_order order : {claim_order::interleaved, claim_order::ranges})
      for (int n : {1, 2, 3, 7, 64, 1000})
        for (int rep = 0; rep < 20; rep++) check_run(pool, n, order, rep % 2 == 1);
  }
  {  // past the 20-bit generation tag of the range words, alternating orders
    thread_pool pool(2);
    std::atomic<int64_t> sum{0};
    const int runs = (1 << 20) + 5000;
    for (int r = 0; r < runs; r++) pool.run(3, [&](int task, int) { sum += task + 1; }, r % 3 ? claim_order::ranges : claim_order::interleaved);
    CHECK(sum.load() == int64_t(runs) * 6);
    check_run(pool, 100, claim_order::ranges, true);
  }
  {  // interleaved runs only, past the wrap: range words never written (tag 0) must not pass for a run's own
    thread_pool pool(2);
    std::atomic<int64_t> sum{0};
    const int runs = (1 << 20) + 5;
    for (int r = 0; r < runs; r++) pool.run(2, [&](int task, int) { sum += task + 1; });
    CHECK(sum.load() == int64_t(runs) * 3);
  }
  if (failures) {
    std::printf("thread pool: %d checks failed\n", failures);
    return 1;
  }
  std::printf("thread pool: all checks passed\n");
  return 0;
}
