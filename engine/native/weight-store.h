// A model's tensors, bound by name: the safetensors files mmapped (or read into 2 MiB pages), f32 copies of the
// norm vectors, and the load-time rewrites of matmul weights into one anonymous arena (weight-arena.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace resident {

class thread_pool;
struct kernels;

// Bytes of a tensor built in memory at load (a GGUF tensor rewritten, an FP8 matrix converted to BF16): one anonymous
// mapping, handed to the weight store by map() — the bytes are never copied a second time.
class owned_bytes {
 public:
  owned_bytes() = default;
  owned_bytes(const owned_bytes&) = delete;
  owned_bytes& operator=(const owned_bytes&) = delete;
  owned_bytes(owned_bytes&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  owned_bytes& operator=(owned_bytes&& o) noexcept;
  ~owned_bytes();
  // A mapping holding a copy of src[0, n); false when memory cannot be had.
  bool copy_from(const void* src, size_t n);
  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  void* release();  // the mapping (munmap is the caller's), this left empty

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

struct tensor_desc {
  std::string name, file;
  size_t offset = 0, nbytes = 0;
  dtype type = dtype::f32;
  std::vector<int64_t> shape;
  owned_bytes data;  // non-empty: the tensor's bytes, held under `file`, offset 0 (moved into the store by map())
};

struct weight {  // [rows][cols], row-major, in `type`, pointing into an mmapped file or the weight arena
  const void* data = nullptr;
  dtype type = dtype::f32;
  int rows = 0, cols = 0;
  bool packed = false;  // bf16 panels (kernels::pack_bf16), not rows: only for bf16 activations' dot kernels
};

// What a bound matrix is used for. matmul: an input of the matmul kernels, rewritten at load in the int8 and
// bf16-panel modes; kept: keeps the file's dtype and layout (embedding rows, the MoE router).
enum class weight_use { matmul, kept };

// A load-time rewrite of the matmul weights into the weight arena (weight-arena.cpp); bytes(w) == 0 keeps w.
struct weight_rewrite {
  const char* what = "";
  int rows_per_task = 64;
  size_t max_bytes = SIZE_MAX;  // a larger arena is not made (weights unchanged, done = false)
  std::function<size_t(const weight&)> bytes;
  std::function<void(const weight&, int r0, int r1, void* dst)> fill;  // rows [r0, r1) of w's copy at dst, r0 % rows_per_task == 0
  std::function<void(weight&, void* dst)> retype;                      // w now describes its copy at dst
};

struct mapped_file {
  std::string path;
  void* base = nullptr;
  size_t size = 0;         // bytes of the file
  size_t map_size = 0;     // bytes mapped at base (the file's mapping, an anonymous huge-page copy, or the weight arena)
  bool anonymous = false;  // not backed by the file (huge-page copy, weight arena)
  mutable int huge = -1;   // a file mapping the kernel maps (≥ 3/4) with 2 MiB entries (large page-cache folios): 0 / 1,
                           // -1 until weight_store::in_small_file asks
};

class weight_store {
 public:
  weight_store() = default;
  weight_store(const weight_store&) = delete;
  weight_store& operator=(const weight_store&) = delete;
  ~weight_store();  // unmaps the files and the arena, frees the norm copies

  // Indexes the tensors by name (until end_binding) and maps every file they name; a tensor with `data` gets its own
  // read-only anonymous copy, registered under its `file` (unique per such tensor).
  result map(std::vector<tensor_desc>& tensors);  // takes over each tensor's in-memory bytes
  // *w = tensor `name`, checked to be [rows][cols]. A matmul weight is registered for rewrite(): w must stay at
  // its address for the store's life (bind into storage sized before binding).
  result bind(const std::string& name, int rows, int cols, weight* w, weight_use use = weight_use::matmul);
  result bind_norm(const std::string& name, int n, float** out);  // *out: an f32 copy of vector `name` of n values
  // *out: an f32 copy of tensor `name`, checked to have `shape` (any rank; small parameters such as a conv kernel).
  result bind_f32(const std::string& name, const std::vector<int64_t>& shape, float** out);
  // *w = rows [row0, row0 + rows) of matrix `index` of the 3-D tensor `name` [count][total_rows][cols] (fused
  // experts); registered like bind's.
  result bind_slice(const std::string& name, int count, int total_rows, int cols, int index, int row0, int rows, weight* w,
                    weight_use use = weight_use::matmul);
  void add_matmul(weight* w) { matmul_.push_back(w); }            // e.g. a tied lm_head: a copy of the embedding
  void end_binding() { index_.clear(); }
  bool has(const std::string& name) const { return find(name) != nullptr; }
  template <typename Pred>
  bool any_type(Pred pred) const {  // whether a registered matmul weight's type satisfies pred
    for (const weight* w : matmul_)
      if (pred(w->type)) return true;
    return false;
  }

  // Whether p lies in a weight file's mapping of 4 KiB pages (not mapped with 2 MiB entries: mapped_file::huge).
  bool in_small_file(const void* p) const;
  // Where the matmul weights are read: "4k-file" (some from a file's 4 KiB pages), "2m-copy" (none, and some from
  // anonymous memory with 2 MiB pages: an arena, a tensor built at load), "2m-file" (all from files mapped with 2 MiB entries).
  const char* matmul_pages() const;

  // Rewrites every registered matmul weight with bytes(w) > 0 into one arena (order of registration), over the
  // pool; *done tells whether any was. Fails without changing any weight if the arena cannot be allocated.
  result rewrite(const weight_rewrite& r, thread_pool& pool, bool* done = nullptr);

 private:
  const tensor_desc* find(const std::string& name) const;
  const mapped_file* file_of(const tensor_desc& t) const;
  const mapped_file* file_at(const void* p) const;  // the mapping holding address p, if any

  std::vector<mapped_file> files_;
  std::unordered_map<std::string, const tensor_desc*> index_;  // by name; during binding only
  std::vector<float*> norms_;
  std::vector<weight*> matmul_;
};

// The int8 rewrite (quantize.cpp): every matmul weight with a multiple of 32 columns becomes q8.
weight_rewrite int8_rewrite();
// The bf16-panel rewrite (weight-arena.cpp): every bf16 matmul weight with k % 32 == 0 becomes kern's bf16 panels;
// none when the copy would take over 3/4 of the available memory. kern must have pack_bf16.
weight_rewrite bf16_panel_rewrite(const kernels& kern);
// The 2 MiB-page copy (weight-arena.cpp): every matmul weight still in a file's 4 KiB pages (store.in_small_file),
// unchanged; none when the copy would take over 3/4 of the available memory.
weight_rewrite huge_page_rewrite(const weight_store& store);

}  // namespace resident
