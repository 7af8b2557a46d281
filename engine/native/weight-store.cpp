// Weight binding: mmap the safetensors files, find tensors by name and check their shapes and extents.
#include "weight-store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace resident {

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

weight_store::~weight_store() {
  for (float* p : norms_) aligned_free(p);
  for (auto& f : files_) munmap(f.base, f.map_size);
}

owned_bytes& owned_bytes::operator=(owned_bytes&& o) noexcept {
  if (this != &o) {
    if (p_) munmap(p_, n_);
    p_ = o.p_, n_ = o.n_;
    o.p_ = nullptr, o.n_ = 0;
  }
  return *this;
}

owned_bytes::~owned_bytes() {
  if (p_) munmap(p_, n_);
}

bool owned_bytes::copy_from(const void* src, size_t n) {
  *this = owned_bytes();
  if (n == 0) return true;
  void* a = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) return false;
  madvise(a, n, MADV_HUGEPAGE);  // a weight streamed by decode: 2 MiB pages where the kernel grants them
  std::memcpy(a, src, n);
  p_ = a, n_ = n;
  return true;
}

void* owned_bytes::release() {
  void* p = p_;
  p_ = nullptr, n_ = 0;
  return p;
}

// Bytes of the mapping at base that the kernel maps with 2 MiB entries (FilePmdMapped in /proc/self/smaps; 0 where
// unreadable). A file's page cache in large folios (filesystems with large-folio readahead) maps this way at a
// 2 MiB-aligned address, which the kernel picks for large file mappings.
static size_t pmd_mapped_bytes(const void* base) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) return 0;
  char line[512];
  bool in = false;
  unsigned long long kb = 0;
  const uintptr_t a = reinterpret_cast<uintptr_t>(base);
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char sp;
    if (sscanf(line, "%lx-%lx%c", &lo, &hi, &sp) == 3 && sp == ' ') in = a >= lo && a < hi;  // a VMA's header
    else if (in && sscanf(line, "FilePmdMapped: %llu kB", &kb) == 1) break;
  }
  fclose(f);
  return size_t(kb) * 1024;
}

const mapped_file* weight_store::file_at(const void* p) const {
  const char* c = static_cast<const char*>(p);
  for (const mapped_file& f : files_)
    if (c >= static_cast<const char*>(f.base) && c < static_cast<const char*>(f.base) + f.size) return &f;
  return nullptr;
}

bool weight_store::in_small_file(const void* p) const {
  const mapped_file* f = file_at(p);
  if (!f || f->anonymous) return false;
  if (f->huge < 0) f->huge = pmd_mapped_bytes(f->base) >= f->size / 4 * 3;
  return f->huge == 0;
}

const char* weight_store::matmul_pages() const {
  bool copied = false;
  for (const weight* w : matmul_) {
    const mapped_file* f = w->data ? file_at(w->data) : nullptr;
    if (!f) continue;
    if (in_small_file(w->data)) return "4k-file";
    copied = copied || f->anonymous;
  }
  return copied ? "2m-copy" : "2m-file";
}

result weight_store::map(std::vector<tensor_desc>& tensors) {
  for (const auto& t : tensors) index_.emplace(t.name, &t);
  for (auto& t : tensors) {
    if (std::any_of(files_.begin(), files_.end(), [&](const mapped_file& f) { return f.path == t.file; })) continue;
    if (!t.data.empty()) {
      const size_t n = t.data.size();
      void* a = t.data.release();
      mprotect(a, n, PROT_READ);
      files_.push_back({t.file, a, n, n, true});
      continue;
    }
    int fd = open(t.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return result::fail(status::load_error, "cannot open weight file " + t.file);
    struct stat st;
    fstat(fd, &st);
    const size_t size = size_t(st.st_size);
    void* p = MAP_FAILED;
    size_t map_size = size;
    bool anonymous = false;
    const char* huge_env = getenv("RESIDENT_HUGEPAGES");
    if (size && huge_env && *huge_env == '1' &&
        size < size_t(sysconf(_SC_AVPHYS_PAGES)) / 2 * size_t(sysconf(_SC_PAGESIZE))) {
      // Opt-in: read into anonymous memory backed by 2 MiB pages (the hardware prefetchers stop at 4 KiB
      // page boundaries of the page-cache mapping). Only while the file is under half the free memory;
      // falls back to mapping the file on any failure.
      const size_t huge = size_t(2) << 20, len = (size + huge - 1) / huge * huge;
      void* a = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (a != MAP_FAILED) {
        madvise(a, len, MADV_HUGEPAGE);
        size_t done = 0;
        for (ssize_t got; done < size; done += size_t(got))
          if ((got = pread(fd, static_cast<char*>(a) + done, size - done, off_t(done))) <= 0) break;
        if (done == size && mprotect(a, len, PROT_READ) == 0) {
          p = a;
          map_size = len;
          anonymous = true;
        } else {
          munmap(a, len);
        }
      }
    }
    if (p == MAP_FAILED && size) {
      // Populate (read ahead and map every page at load, as llama.cpp's mmap prefetch does) when the file fits well
      // in RAM: otherwise the first tokens pay a page fault per 4 KiB, and a MoE's experts keep faulting for many
      // tokens, each expert on its first routing.
      const bool populate = size <= size_t(sysconf(_SC_PHYS_PAGES)) / 4 * 3 * size_t(sysconf(_SC_PAGESIZE));
      p = mmap(nullptr, size, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    }
    close(fd);
    if (p == MAP_FAILED) return result::fail(status::load_error, "cannot mmap weight file " + t.file);
    files_.push_back({t.file, p, size, map_size, anonymous});
  }
  return result::ok();
}

const tensor_desc* weight_store::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const mapped_file* weight_store::file_of(const tensor_desc& t) const {
  const mapped_file* f = nullptr;
  for (const auto& m : files_)
    if (m.path == t.file) f = &m;
  return f;
}

result weight_store::bind(const std::string& name, int rows, int cols, weight* w, weight_use use) {
  const tensor_desc* t = find(name);
  if (!t) return result::fail(status::load_error, "missing tensor " + name);
  if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " has shape " + shape_str(t->shape) +
                                                ", expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const mapped_file* f = file_of(*t);
  if (cols % block_elems(t->type) != 0)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + ": rows of " + std::to_string(cols) + " values are not whole quant blocks");
  const size_t need = size_t(rows) * row_bytes(t->type, cols);
  if (!f || t->nbytes != need || t->offset + need > f->size)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " lies outside the file or has the wrong byte size");
  w->data = static_cast<const char*>(f->base) + t->offset;
  w->type = t->type;
  w->rows = rows;
  w->cols = cols;
  if (use == weight_use::matmul) matmul_.push_back(w);
  return result::ok();
}

result weight_store::bind_norm(const std::string& name, int n, float** out) { return bind_f32(name, {int64_t(n)}, out); }

result weight_store::bind_f32(const std::string& name, const std::vector<int64_t>& shape, float** out) {
  const tensor_desc* t = find(name);
  if (!t) return result::fail(status::load_error, "missing tensor " + name);
  if (t->shape != shape)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " has shape " + shape_str(t->shape) +
                                                ", expected " + shape_str(shape));
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  const mapped_file* f = file_of(*t);
  if (is_block_quant(t->type)) return result::fail(status::load_error, "tensor " + name + " in " + t->file + " is block-quantized; expected a float type");
  if (!f || t->nbytes != n * dtype_size(t->type) || t->offset + t->nbytes > f->size)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " lies outside the file or has the wrong byte size");
  float* dst = static_cast<float*>(aligned_alloc_zero(n * 4));
  norms_.push_back(dst);
  kernels_portable().to_f32(static_cast<const char*>(f->base) + t->offset, t->type, dst, n);
  *out = dst;
  return result::ok();
}

result weight_store::bind_slice(const std::string& name, int count, int total_rows, int cols, int index, int row0, int rows,
                                weight* w, weight_use use) {
  const tensor_desc* t = find(name);
  if (!t) return result::fail(status::load_error, "missing tensor " + name);
  const std::vector<int64_t> want = {count, total_rows, cols};
  if (t->shape != want)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " has shape " + shape_str(t->shape) +
                                                ", expected " + shape_str(want));
  const mapped_file* f = file_of(*t);
  if (cols % block_elems(t->type) != 0)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + ": rows of " + std::to_string(cols) + " values are not whole quant blocks");
  const size_t rb = row_bytes(t->type, cols), all = size_t(count) * size_t(total_rows) * rb;
  if (!f || t->nbytes != all || t->offset + all > f->size)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " lies outside the file or has the wrong byte size");
  const size_t first = (size_t(index) * size_t(total_rows) + size_t(row0)) * rb;
  w->data = static_cast<const char*>(f->base) + t->offset + first;
  w->type = t->type;
  w->rows = rows;
  w->cols = cols;
  if (use == weight_use::matmul) matmul_.push_back(w);
  return result::ok();
}

}  // namespace resident
