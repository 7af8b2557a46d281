#include "thread-pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() std::this_thread::yield()
#endif

#include "common.h"

namespace resident {

thread_pool::thread_pool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int t = 1; t < n_threads_; t++) workers_.emplace_back([this, t] { worker_loop(t); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::drain(int thread) {
  const int n = n_tasks_.load(std::memory_order_acquire);
  for (int task; (task = next_task_.fetch_add(1, std::memory_order_relaxed)) < n;) fn_(ctx_, task, thread);
}

void thread_pool::run_raw(int n_tasks, task_fn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    next_task_.store(0, std::memory_order_relaxed);
    n_tasks_.store(n_tasks, std::memory_order_relaxed);
    busy_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain(0);
  while (busy_.load(std::memory_order_acquire) > 0) cpu_relax();
}

void thread_pool::worker_loop(int thread) {
  t_count_allocations = true;
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < 20000; spin++) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      gen = generation_.load();
    }
    seen = gen;
    if (stop_) return;
    drain(thread);
    busy_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace resident
