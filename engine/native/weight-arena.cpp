// Load-time rewrites of the matmul weights into one anonymous huge-page arena: int8 quantization
// (quantize.cpp), bf16 panels packed for the bf16 dot kernels (bf16 activations), and plain copies into 2 MiB pages.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernels.h"
#include "thread-pool.h"
#include "weight-store.h"

namespace resident {

// Every registered matmul weight (lm_head, projections, MLPs, experts) with bytes(w) > 0 gets a copy in the
// arena, written by fill over pool tasks of rows_per_task rows, slab by slab of source_slab_bytes; retype(w, dst)
// then points w at its copy. A tied lm_head gets its own copy; embedding lookups keep the embedding. Each slab's
// source pages leave this process's resident set once copied (file mappings only; they stay in the page
// cache), so loading peaks near the arena's size. *done tells whether any weight was rewritten: not when
// none qualifies or the arena would exceed max_bytes. Fails without changing any weight if the arena
// cannot be allocated.
result weight_store::rewrite(const weight_rewrite& r, thread_pool& pool, bool* done) {
  if (done) *done = false;
  const std::vector<weight*>& ws = matmul_;
  size_t total = 0;
  std::vector<size_t> at, size;
  for (weight* w : ws) {
    at.push_back(total);
    size.push_back(w->data ? r.bytes(*w) : 0);
    total += (size.back() + 63) / 64 * 64;
  }
  if (total == 0 || total > r.max_bytes) return result::ok();
  void* arena = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (arena == MAP_FAILED) return result::fail(status::load_error, "cannot allocate " + std::to_string(total >> 20) + " MiB for " + r.what);
  madvise(arena, total, MADV_HUGEPAGE);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  auto drop_source = [&](const char* src, size_t bytes) {  // whole pages inside [src, src + bytes) of a file mapping
    for (const mapped_file& f : files_) {
      const char* base = static_cast<const char*>(f.base);
      if (f.anonymous || src < base || src + bytes > base + f.size) continue;
      const uintptr_t lo = (reinterpret_cast<uintptr_t>(src) + page - 1) / page * page;
      const uintptr_t hi = (reinterpret_cast<uintptr_t>(src) + bytes) / page * page;
      if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
  };
  constexpr size_t source_slab_bytes = size_t(4) << 20;
  const int R = r.rows_per_task;
  for (size_t i = 0; i < ws.size(); i++) {
    if (size[i] == 0) continue;
    weight& w = *ws[i];
    char* dst = static_cast<char*>(arena) + at[i];
    const size_t src_rb = row_bytes(w.type, w.cols);
    const int slab = std::max(R, int(source_slab_bytes / src_rb) / R * R);  // rows, a multiple of R
    for (int s0 = 0; s0 < w.rows; s0 += slab) {
      const int s1 = std::min(w.rows, s0 + slab);
      pool.run((s1 - s0 + R - 1) / R, [&](int t, int) { r.fill(w, s0 + t * R, std::min(s1, s0 + (t + 1) * R), dst); });
      drop_source(static_cast<const char*>(w.data) + size_t(s0) * src_rb, size_t(s1 - s0) * src_rb);
    }
    r.retype(w, dst);
  }
  mprotect(arena, total, PROT_READ);
  files_.push_back({std::string("<") + r.what + ">", arena, total, total, true});
  if (done) *done = true;
  return result::ok();
}

// MemAvailable from /proc/meminfo in bytes (0 where unreadable).
static size_t memory_available() {
  FILE* f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  fclose(f);
  return size_t(kb) * 1024;
}

// With bf16 activations on a level with pack_bf16: every bf16 matmul weight with k % 32 == 0 becomes bf16
// panels (kernels.h), so no matmul packs per call and decode, batched decode and prefill share one kernel.
// No arena (weights stay mmapped, packed per call) when the copy would take over 3/4 of MemAvailable.
weight_rewrite bf16_panel_rewrite(const kernels& kern) {
  weight_rewrite r;
  r.what = "bf16 panels";
  r.rows_per_task = 8 * bf16_panel_rows;
  r.bytes = [](const weight& w) { return w.type == dtype::bf16 && w.cols % 32 == 0 ? bf16_packed_bytes(w.rows, w.cols) : 0; };
  r.fill = [&kern](const weight& w, int r0, int r1, void* dst) {
    kern.pack_bf16(static_cast<const uint16_t*>(w.data), w.rows, w.cols, r0 / bf16_panel_rows, (r1 + bf16_panel_rows - 1) / bf16_panel_rows, dst);
  };
  r.retype = [](weight& w, void* dst) {
    w.data = dst;
    w.packed = true;
  };
  r.max_bytes = memory_available() / 4 * 3;
  return r;
}

// Matmul weights still read from a file mapping of 4 KiB pages (a page cache in small folios), copied unchanged
// into 2 MiB pages: the hardware prefetchers stop at every page boundary, and decode streams every weight once per
// token. Weights in an arena already (bf16 panels, int8) or in a file the kernel maps with 2 MiB entries stay.
// No arena when the copy would take over 3/4 of MemAvailable.
weight_rewrite huge_page_rewrite(const weight_store& store) {
  weight_rewrite r;
  r.what = "2 MiB-page weights";
  r.rows_per_task = 64;
  r.bytes = [&store](const weight& w) { return store.in_small_file(w.data) ? size_t(w.rows) * row_bytes(w.type, w.cols) : 0; };
  r.fill = [](const weight& w, int r0, int r1, void* dst) {
    const size_t rb = row_bytes(w.type, w.cols);
    std::memcpy(static_cast<char*>(dst) + size_t(r0) * rb, static_cast<const char*>(w.data) + size_t(r0) * rb, size_t(r1 - r0) * rb);
  };
  r.retype = [](weight& w, void* dst) { w.data = dst; };
  r.max_bytes = memory_available() / 4 * 3;
  return r;
}

}  // namespace resident
