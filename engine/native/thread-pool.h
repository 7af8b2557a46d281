// Persistent thread pool: run(n_tasks, f) hands task indices to the calling thread plus the workers and
// returns when every task is done. Tasks are claimed with a CAS on (generation, next index), so a worker
// that wakes late can never run a task of another run, and completion counts finished tasks, not
// workers: if the OS does not schedule a worker (an oversubscribed machine), the caller does its share.
// Workers spin briefly, then sleep on a condition variable; the caller spins, then yields.
// claim_order::ranges gives each thread a contiguous range of the tasks, claimed front to back (a decode matmul's
// weight rows then stream in order per thread, which the hardware prefetcher follows across tasks); a thread done
// with its range takes the other ranges' last tasks. claim_ (full generation) tells a run's order; each range is one
// (generation tag, front, back) word: a claim delayed past 2^20 runs could match a later run's tag, but then it
// claims that run's task, of the job of the same parity, exactly once — as the run's own threads would.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace resident {

enum class claim_order { interleaved, ranges };

class thread_pool {
 public:
  explicit thread_pool(int n_threads);  // n_threads counts the caller: n_threads - 1 workers
  ~thread_pool();
  int size() const { return n_threads_; }
  // f(task, thread) for every task < n_tasks, thread < size(). Not reentrant; one run at a time.
  // Takes the callable by reference: no std::function, no allocation.
  template <class F>
  void run(int n_tasks, F&& f, claim_order order = claim_order::interleaved) {
    using G = std::remove_reference_t<F>;
    run_raw(n_tasks, [](void* c, int task, int thread) { (*static_cast<G*>(c))(task, thread); },
            const_cast<void*>(static_cast<const void*>(&f)), order);
  }

 private:
  using task_fn = void (*)(void*, int, int);
  struct job {
    task_fn fn;
    void* ctx;
    uint32_t n;
  };
  struct alignas(64) range {
    std::atomic<uint64_t> word{0};  // (generation tag << 44) | (front << 22) | back: tasks [front, back) unclaimed
  };
  void run_raw(int n_tasks, task_fn fn, void* ctx, claim_order order);
  void worker_loop(int thread);
  void drain(uint32_t gen, int thread);
  bool claim_range(uint32_t gen, int r, bool front, uint32_t* task);
  void run_task(uint32_t gen, uint32_t task, int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  job jobs_[2] = {};                     // job of generation g lives in jobs_[g & 1]
  std::atomic<uint64_t> claim_{0};       // (generation << 32) | next task index
  std::unique_ptr<range[]> ranges_;      // claim_order::ranges: one per thread
  std::atomic<uint32_t> generation_{0};  // bumped once per run; workers wait for it to change
  std::atomic<uint32_t> done_{0};        // tasks finished in the current run
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace resident
