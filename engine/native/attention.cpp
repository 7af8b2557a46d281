// Head-by-head flash attention over KV slots. One task = (sequence, kv head, block of query tokens):
// the GQA group's query heads share one pass over that head's K/V, tile by tile, with an online
// softmax in f32 (one exp per score). Causal: token at position p sees positions [0, p].
#include <algorithm>
#include <cmath>
#include <limits>

#include "model.h"

namespace resident {

namespace {
constexpr int kv_tile = 64;   // positions per K/V tile
constexpr int q_block = 16;   // query tokens per task
}  // namespace

size_t model::attention_scratch_floats() const {
  const size_t hd = size_t(cfg.head_dim), rows = size_t(cfg.n_head / cfg.n_kv_head) * q_block;
  // k tile, v tile: [kv_tile][hd]; q: [rows][hd]; acc: [rows][hd]; scores: [kv_tile]; m, l: [rows]
  return 2 * kv_tile * hd + 2 * rows * hd + kv_tile + 2 * rows + 64;
}

void model::attention(const batch& b, int layer) {
  const int hd = cfg.head_dim, g = cfg.n_head / cfg.n_kv_head, QD = cfg.n_head * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  // tasks: for each sequence, n_kv_head × ceil(count / q_block)
  int n_tasks = 0;
  for (int s = 0; s < b.n_seqs; s++) n_tasks += cfg.n_kv_head * ((b.seqs[s].count + q_block - 1) / q_block);
  auto task = [&](int task_id, int thread) {
    int s = 0, rest = task_id;
    for (;; s++) {
      int here = cfg.n_kv_head * ((b.seqs[s].count + q_block - 1) / q_block);
      if (rest < here) break;
      rest -= here;
    }
    const seq_entry& e = b.seqs[s];
    const int head = rest % cfg.n_kv_head, qb = rest / cfg.n_kv_head;
    const int t0 = e.offset + qb * q_block, nt = std::min(q_block, e.offset + e.count - t0), rows = nt * g;
    float* scratch = thread_scratch_[size_t(thread)] + matmul_scratch_;
    float *kt = scratch, *vt = kt + kv_tile * hd, *q = vt + kv_tile * hd, *acc = q + size_t(rows) * hd,
          *sc = acc + size_t(rows) * hd, *m = sc + kv_tile, *l = m + rows;
    // row r = token (r / g), query head head * g + r % g
    for (int r = 0; r < rows; r++) {
      const float* src = q_ + size_t(t0 + r / g) * QD + size_t(head * g + r % g) * hd;
      for (int d = 0; d < hd; d++) q[size_t(r) * hd + d] = src[d] * scale;
      std::fill(acc + size_t(r) * hd, acc + size_t(r + 1) * hd, 0.0f);
      m[r] = -std::numeric_limits<float>::infinity();
      l[r] = 0.0f;
    }
    const kv_slot* slot = e.slot;
    const size_t es = dtype_size(slot->type);
    const char* kbase = slot->region(layer, 0, head);
    const char* vbase = slot->region(layer, 1, head);
    const int last = pos_[t0 + nt - 1];  // highest position any row sees
    for (int p0 = 0; p0 <= last; p0 += kv_tile) {
      const int tn = std::min(kv_tile, last + 1 - p0);
      kern->to_f32(kbase + size_t(p0) * hd * es, slot->type, kt, size_t(tn) * hd);
      kern->to_f32(vbase + size_t(p0) * hd * es, slot->type, vt, size_t(tn) * hd);
      for (int r = 0; r < rows; r++) {
        const int visible = std::min(tn, pos_[t0 + r / g] - p0 + 1);
        if (visible <= 0) continue;
        const float* qr = q + size_t(r) * hd;
        float mx = m[r];
        for (int i = 0; i < visible; i++) {
          sc[i] = kern->dot(qr, kt + size_t(i) * hd, hd);
          mx = std::max(mx, sc[i]);
        }
        const float corr = std::exp(m[r] - mx);  // 0 on the first tile (m = -inf)
        const float sum = kern->exp_sum(sc, visible, mx);
        float* ar = acc + size_t(r) * hd;
        if (corr != 1.0f) kern->scale(ar, corr, hd);
        for (int i = 0; i < visible; i++) kern->axpy(ar, sc[i], vt + size_t(i) * hd, hd);
        l[r] = l[r] * corr + sum;
        m[r] = mx;
      }
    }
    for (int r = 0; r < rows; r++) {
      float* dst = att_ + size_t(t0 + r / g) * QD + size_t(head * g + r % g) * hd;
      const float inv = 1.0f / l[r];
      for (int d = 0; d < hd; d++) dst[d] = acc[size_t(r) * hd + d] * inv;
    }
  };
  pool_->run(n_tasks, task);
}

}  // namespace resident
