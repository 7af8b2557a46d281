// Persistent thread pool: run(n_tasks, fn) hands task indices to the calling thread plus the workers
// and returns when all are done. Workers spin briefly, then sleep on a condition variable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <type_traits>
#include <mutex>
#include <thread>
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
  void run_raw(int n_tasks, task_fn fn, void* ctx);

  void worker_loop(int thread);
  void drain(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_task_{0};
  std::atomic<int> n_tasks_{0};
  std::atomic<int> busy_{0};
  task_fn fn_ = nullptr;
  void* ctx_ = nullptr;
  bool stop_ = false;
};

}  // namespace resident
