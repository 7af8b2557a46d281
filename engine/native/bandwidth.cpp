// Memory read-rate probe for `resident bench`: the machine limit that memory-bound decode is measured against.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "common.h"

namespace resident {

// Best of `reps` passes of `threads` threads each summing its own contiguous slice of a `bytes` buffer
// (anonymous, huge pages where the kernel grants them, committed before timing), in GB/s (1e9 bytes/s).
result memory_read_rate(size_t bytes, int threads, int reps, double* gbps) {
  if (bytes < (size_t(1) << 20) || threads < 1 || reps < 1) return result::fail(status::argument_error, "memory probe: need >= 1 MiB, threads >= 1, reps >= 1");
  bytes = bytes / (64 * size_t(threads)) * (64 * size_t(threads));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return result::fail(status::argument_error, "memory probe: cannot allocate " + std::to_string(bytes >> 20) + " MiB");
  madvise(p, bytes, MADV_HUGEPAGE);
  std::memset(p, 1, bytes);
  const size_t slice = bytes / size_t(threads) / 8;  // uint64 per thread
  std::vector<uint64_t> sums(size_t(threads) * 8);   // one cache line per thread
  double best = 0;
  for (int r = 0; r < reps; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++)
      pool.emplace_back([&, t] {
        const uint64_t* a = static_cast<const uint64_t*>(p) + size_t(t) * slice;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four chains: loads, not adds, bound the loop
        for (size_t i = 0; i < slice; i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
        sums[size_t(t) * 8] = s0 + s1 + s2 + s3;
      });
    for (std::thread& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(bytes) / s / 1e9);
  }
  munmap(p, bytes);
  *gbps = best;
  return result::ok();
}

}  // namespace resident
