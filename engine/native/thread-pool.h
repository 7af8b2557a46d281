// Persistent thread pool: run(n_tasks, f) hands task indices to the calling thread plus the workers and
// returns when every task is done. Tasks are claimed with a CAS on (generation, next index), so a worker
// that wakes late can never run a task of another run, and completion counts finished tasks, not
// workers: if the OS does not schedule a worker (an oversubscribed machine), the caller does its share.
// Workers spin briefly, then sleep on a condition variable; the caller spins, then yields.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace resident {

class thread_pool {
 public:
  explicit thread_pool(int n_threads);  // n_threads counts the caller: n_threads - 1 workers
  ~thread_pool();
  int size() const { return n_threads_; }
  // f(task, thread) for every task < n_tasks, thread < size(). Not reentrant; one run at a time.
  // Takes the callable by reference: no std::function, no allocation.
  template <class F>
  void run(int n_tasks, F&& f) {
    using G = std::remove_reference_t<F>;
    run_raw(n_tasks, [](void* c, int task, int thread) { (*static_cast<G*>(c))(task, thread); },
            const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  using task_fn = void (*)(void*, int, int);
  struct job {
    task_fn fn;
    void* ctx;
    uint32_t n;
  };
  void run_raw(int n_tasks, task_fn fn, void* ctx);
  void worker_loop(int thread);
  void drain(uint32_t gen, int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  job jobs_[2] = {};                     // job of generation g lives in jobs_[g & 1]
  std::atomic<uint64_t> claim_{0};       // (generation << 32) | next task index
  std::atomic<uint32_t> generation_{0};  // bumped once per run; workers wait for it to change
  std::atomic<uint32_t> done_{0};        // tasks finished in the current run
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace resident
