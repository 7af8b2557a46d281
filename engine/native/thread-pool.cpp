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
constexpr int range_bits = 22;       // claim_order::ranges: task indices below 2^22 (more tasks run interleaved)
constexpr uint64_t range_mask = (uint64_t(1) << range_bits) - 1;
constexpr uint32_t ranges_run = 0xFFFFFFFFu;  // claim_'s index in a ranges run (its full generation decides the mode)
constexpr uint64_t tag_of(uint32_t gen) { return uint64_t(gen) & ((uint64_t(1) << (64 - 2 * range_bits)) - 1); }
constexpr uint64_t range_word(uint32_t gen, uint64_t front, uint64_t back) { return tag_of(gen) << (2 * range_bits) | front << range_bits | back; }
}  // namespace

thread_pool::thread_pool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads), ranges_(new range[size_t(n_threads_)]) {
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

void thread_pool::run_task(uint32_t gen, uint32_t task, int thread) {
  // reading the job after a successful claim is safe: its run cannot finish before our task does
  const job& j = jobs_[gen & 1];
  j.fn(j.ctx, int(task), thread);
  done_.fetch_add(1, std::memory_order_release);
}

// Claims range r's front (its owner) or back (another thread) task of run gen; false when it is empty or of another run.
bool thread_pool::claim_range(uint32_t gen, int r, bool front, uint32_t* task) {
  std::atomic<uint64_t>& w = ranges_[size_t(r)].word;
  for (;;) {
    uint64_t c = w.load(std::memory_order_acquire);
    if (c >> (2 * range_bits) != tag_of(gen)) return false;
    const uint64_t f = c >> range_bits & range_mask, b = c & range_mask;
    if (f >= b) return false;
    if (!w.compare_exchange_weak(c, front ? range_word(gen, f + 1, b) : range_word(gen, f, b - 1), std::memory_order_acq_rel)) continue;
    *task = uint32_t(front ? f : b - 1);
    return true;
  }
}

void thread_pool::drain(uint32_t gen, int thread) {
  uint32_t task;
  const uint64_t run = claim_.load(std::memory_order_acquire);
  if (uint32_t(run >> 32) != gen) return;  // a later run: not ours
  if (uint32_t(run) == ranges_run) {
    while (claim_range(gen, thread, true, &task)) run_task(gen, task, thread);
    for (int k = 1; k < n_threads_; k++) {
      const int r = (thread + k) % n_threads_;
      while (claim_range(gen, r, false, &task)) run_task(gen, task, thread);
    }
    return;
  }
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    if (uint32_t(c >> 32) != gen) return;  // a later run: not ours
    task = uint32_t(c);
    if (task >= jobs_[gen & 1].n) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    run_task(gen, task, thread);
  }
}

void thread_pool::run_raw(int n_tasks, task_fn fn, void* ctx, claim_order order) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
    return;
  }
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  jobs_[gen & 1] = {fn, ctx, uint32_t(n_tasks)};
  done_.store(0, std::memory_order_relaxed);
  if (order == claim_order::ranges && uint64_t(n_tasks) <= range_mask) {
    for (int r = 0; r < n_threads_; r++)
      ranges_[size_t(r)].word.store(range_word(gen, uint64_t(n_tasks) * r / n_threads_, uint64_t(n_tasks) * (r + 1) / n_threads_), std::memory_order_relaxed);
    claim_.store(uint64_t(gen) << 32 | ranges_run, std::memory_order_release);
  } else {
    claim_.store(uint64_t(gen) << 32, std::memory_order_release);
  }
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
