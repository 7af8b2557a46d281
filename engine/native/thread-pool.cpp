#include "thread-pool.h"

#include "common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() std::this_thread::yield()
#endif

namespace resident {

namespace {
constexpr int worker_spins = 20000;  // ≈ 0.1–1 ms of polling before a worker sleeps
constexpr int caller_spins = 4000;   // then the caller yields its core while it waits
}  // namespace

thread_pool::thread_pool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int t = 1; t < n_threads_; t++) workers_.emplace_back([this, t] { worker_loop(t); });
}

thread_pool::~thread_pool() {
  stop_.store(true);
  generation_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  for (auto& w : workers_) w.join();
}

void thread_pool::drain(uint32_t gen, int thread) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    if (uint32_t(c >> 32) != gen) return;  // a later run: not ours
    // reading the job after a successful claim is safe: its run cannot finish before our task does
    const uint32_t task = uint32_t(c);
    if (task >= jobs_[gen & 1].n) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    const job& j = jobs_[gen & 1];
    j.fn(j.ctx, int(task), thread);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void thread_pool::run_raw(int n_tasks, task_fn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
    return;
  }
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  jobs_[gen & 1] = {fn, ctx, uint32_t(n_tasks)};
  done_.store(0, std::memory_order_relaxed);
  claim_.store(uint64_t(gen) << 32, std::memory_order_release);
  generation_.store(gen, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  drain(gen, 0);
  for (int spin = 0; done_.load(std::memory_order_acquire) < uint32_t(n_tasks); spin++) {
    if (spin < caller_spins) cpu_relax();
    else std::this_thread::yield();
  }
}

void thread_pool::worker_loop(int thread) {
  t_count_allocations = true;
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < worker_spins; spin++) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    drain(gen, thread);
  }
}

}  // namespace resident
