// Model loading: mmap the safetensors files, bind and check every tensor, allocate all buffers once.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "model.h"

namespace resident {

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

result model::map_weights(const std::vector<tensor_desc>& tensors) {
  for (const auto& t : tensors) {
    if (std::any_of(files_.begin(), files_.end(), [&](const mapped_file& f) { return f.path == t.file; })) continue;
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
    if (p == MAP_FAILED && size) p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return result::fail(status::load_error, "cannot mmap weight file " + t.file);
    files_.push_back({t.file, p, size, map_size, anonymous});
  }
  return result::ok();
}

const tensor_desc* model::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : it->second;
}

result model::bind_weight(const std::vector<tensor_desc>& tensors, const std::string& name, int rows, int cols,
                          weight* w) {
  const tensor_desc* t = find_tensor(name);
  if (!t) return result::fail(status::load_error, "missing tensor " + name);
  if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " has shape " + shape_str(t->shape) +
                                                ", expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const mapped_file* f = nullptr;
  for (const auto& m : files_)
    if (m.path == t->file) f = &m;
  const size_t need = size_t(rows) * size_t(cols) * dtype_size(t->type);
  if (!f || t->nbytes != need || t->offset + need > f->size)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " lies outside the file or has the wrong byte size");
  w->data = static_cast<const char*>(f->base) + t->offset;
  w->type = t->type;
  w->rows = rows;
  w->cols = cols;
  return result::ok();
}

result model::bind_norm(const std::vector<tensor_desc>& tensors, const std::string& name, int n, float** out) {
  const tensor_desc* t = find_tensor(name);
  if (!t) return result::fail(status::load_error, "missing tensor " + name);
  if (t->shape.size() != 1 || t->shape[0] != n)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " has shape " + shape_str(t->shape) +
                                                ", expected [" + std::to_string(n) + "]");
  weight w;
  const mapped_file* f = nullptr;
  for (const auto& m : files_)
    if (m.path == t->file) f = &m;
  if (!f || t->nbytes != size_t(n) * dtype_size(t->type) || t->offset + t->nbytes > f->size)
    return result::fail(status::load_error, "tensor " + name + " in " + t->file + " lies outside the file or has the wrong byte size");
  w.data = static_cast<const char*>(f->base) + t->offset;
  float* dst = static_cast<float*>(aligned_alloc_zero(size_t(n) * 4));
  owned_.push_back(dst);
  kernels_portable().to_f32(w.data, t->type, dst, size_t(n));
  *out = dst;
  return result::ok();
}

result model::load(const model_config& c, const std::vector<tensor_desc>& tensors, const engine_options& opt,
                   model** out) {
  if (c.vocab <= 0 || c.hidden <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_kv_head <= 0 || c.head_dim <= 0 ||
      c.inter <= 0 || c.n_head % c.n_kv_head != 0 || c.head_dim % 2 != 0)
    return result::fail(status::unsupported, "invalid model dimensions (heads must be a multiple of kv heads, head_dim even)");
  if (opt.max_tokens < 1 || opt.threads < 1) return result::fail(status::argument_error, "threads and max_tokens must be >= 1");
  if (c.n_expert > 0) {
    if (c.n_expert_used < 1 || c.n_expert_used > c.n_expert || c.moe_inter <= 0 || c.moe_layer.size() != size_t(c.n_layer))
      return result::fail(status::unsupported, "invalid MoE dimensions (need 1 <= experts per token <= experts, moe_inter > 0, one flag per layer)");
  } else if (std::any_of(c.moe_layer.begin(), c.moe_layer.end(), [](uint8_t f) { return f != 0; })) {
    return result::fail(status::unsupported, "MoE layers without experts");
  }
  std::unique_ptr<model> m(new model(c));
  for (const auto& t : tensors) m->tensor_index_.emplace(t.name, &t);
  m->kern = select_kernels(opt.portable ? "portable" : opt.kernels.c_str());  // avx512 > avx2 > portable
  if (!m->kern) return result::fail(status::argument_error, "unknown kernels level '" + opt.kernels + "' (auto, avx512, avx2, portable)");
  if (result r = m->map_weights(tensors); !r) return r;

  const int H = c.hidden, QD = c.n_head * c.head_dim, KD = c.n_kv_head * c.head_dim;
  if (result r = m->bind_weight(tensors, "model.embed_tokens.weight", c.vocab, H, &m->embed_); !r) return r;
  if (c.tied) m->lm_head_ = m->embed_;
  else if (result r = m->bind_weight(tensors, "lm_head.weight", c.vocab, H, &m->lm_head_); !r) return r;
  if (result r = m->bind_norm(tensors, "model.norm.weight", H, &m->final_norm_); !r) return r;
  m->layers_.resize(size_t(c.n_layer));
  for (int l = 0; l < c.n_layer; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    layer_weights& L = m->layers_[size_t(l)];
    result r;
    if (!(r = m->bind_norm(tensors, p + "input_layernorm.weight", H, &L.attn_norm)) ||
        !(r = m->bind_norm(tensors, p + "post_attention_layernorm.weight", H, &L.ffn_norm)) ||
        !(r = m->bind_norm(tensors, p + "self_attn.q_norm.weight", c.head_dim, &L.q_norm)) ||
        !(r = m->bind_norm(tensors, p + "self_attn.k_norm.weight", c.head_dim, &L.k_norm)) ||
        !(r = m->bind_weight(tensors, p + "self_attn.q_proj.weight", QD, H, &L.q)) ||
        !(r = m->bind_weight(tensors, p + "self_attn.k_proj.weight", KD, H, &L.k)) ||
        !(r = m->bind_weight(tensors, p + "self_attn.v_proj.weight", KD, H, &L.v)) ||
        !(r = m->bind_weight(tensors, p + "self_attn.o_proj.weight", H, QD, &L.o)))
      return r;
    if (c.n_expert > 0 && c.moe_layer[size_t(l)]) {
      if (!(r = m->bind_moe_layer(tensors, l))) return r;
    } else if (!(r = m->bind_weight(tensors, p + "mlp.gate_proj.weight", c.inter, H, &L.gate)) ||
               !(r = m->bind_weight(tensors, p + "mlp.up_proj.weight", c.inter, H, &L.up)) ||
               !(r = m->bind_weight(tensors, p + "mlp.down_proj.weight", H, c.inter, &L.down))) {
      return r;
    }
  }
  m->tensor_index_.clear();
  m->max_tokens_ = opt.max_tokens;
  m->pool_ = std::make_unique<thread_pool>(opt.threads);
  if (opt.int8) {
    if (result r = m->quantize_weights(); !r) return r;
    m->int8_ = true;
  }
  m->bf16_act_ = opt.bf16_activations;
  if (m->bf16_act_)
    if (result r = m->pack_bf16_weights(); !r) return r;
  m->alloc_buffers(opt.threads);
  *out = m.release();
  return result::ok();
}

void model::alloc_buffers(int threads) {
  const size_t T = size_t(max_tokens_), H = size_t(cfg.hidden), QD = size_t(cfg.n_head) * cfg.head_dim,
               KD = size_t(cfg.n_kv_head) * cfg.head_dim, I = size_t(cfg.inter), HD2 = size_t(cfg.head_dim) / 2;
  auto f = [&](size_t n) {
    float* p = static_cast<float*>(aligned_alloc_zero(n * 4));
    owned_.push_back(p);
    return p;
  };
  x_ = f(T * H); xn_ = f(T * H); tmp_ = f(T * H);
  q_ = f(T * QD); att_ = f(T * QD); k_ = f(T * KD); v_ = f(T * KD);
  g_ = f(T * I); u_ = f(T * I);
  rope_cos_ = f(T * HD2); rope_sin_ = f(T * HD2); inv_freq_ = f(HD2);
  pos_ = reinterpret_cast<int32_t*>(f(T));
  seq_of_ = reinterpret_cast<int32_t*>(f(T));
  for (size_t i = 0; i < HD2; i++)
    inv_freq_[i] = float(1.0 / std::pow(double(cfg.rope_theta), double(2 * i) / double(cfg.head_dim)));
  const int kmax = std::max({cfg.hidden, cfg.inter, cfg.n_head * cfg.head_dim, cfg.moe_inter});
  matmul_scratch_ = matmul_scratch_floats(kmax);
  for (int t = 0; t < threads; t++) thread_scratch_.push_back(f(matmul_scratch_ + attention_scratch_floats()));
  if (cfg.n_expert > 0) alloc_moe_buffers();
  if (bf16_act_ && kern->matmul_bf16) {
    const size_t rows = std::max(T, size_t(moe_tokens_) * size_t(std::max(cfg.n_expert_used, 1)));
    xb_ = reinterpret_cast<uint16_t*>(f((rows * size_t(kmax) + 1) / 2));
  }
}

model::~model() {
  pool_.reset();
  for (float* p : owned_) aligned_free(p);
  for (auto& f : files_) munmap(f.base, f.map_size);
}

result model::slot_create(size_t capacity, dtype t, kv_slot** out) const {
  return kv_slot::create({cfg.n_layer, cfg.n_kv_head, cfg.head_dim}, capacity, t, out);
}

}  // namespace resident
