// Attention over state slots. qk_norm_rope_store: per token, RMSNorm and RoPE (NEOX) on every q and k head, then
// K and V written to the token's slot at its position. attention: head-by-head flash attention; one task =
// (sequence, kv head, block of query tokens): the GQA group's query heads share one pass over that head's K/V,
// tile by tile: S = Q·Kᵀ with the matmul kernel (K read in its stored dtype), an online softmax in f32 (one exp
// per score), then acc += P·V with V accumulated in registers. Causal: the token at position p sees [0, p]. With bf16
// activations and a bf16 slot, q and P are rounded to bf16 like every matmul input (vdpbf16ps where the CPU has it).
#include <algorithm>
#include <cmath>
#include <limits>

#include "model.h"

namespace resident {

namespace {
constexpr int kv_tile = 64;  // positions per K/V tile
constexpr int q_block = 64;  // query tokens per task
constexpr int dot_min_rows = 16;  // rows from which bf16 attention runs vdpbf16ps (fewer: V's pair interleave dominates)
}  // namespace

void model::qk_norm_rope_store(const batch& b, int layer, const float* q_norm, const float* k_norm) {
  const int hd = cfg.head_dim, half = hd / 2, rh = cfg.rot_dim() / 2, QD = cfg.n_head * hd, KD = cfg.n_kv_head * hd;
  auto norm_rope = [&](float* v, const float* w, const float* cs, const float* sn) {
    const float s = 1.0f / std::sqrt(kern->sum_sq(v, hd) / float(hd) + cfg.eps);
    kern->scale_mul(v, v, w, s, hd);
    for (int i = 0; i < rh; i++) {  // NEOX over the first rot_dim dims: rotate pairs (i, i + rh)
      const float a = v[i], c = v[i + rh];
      v[i] = a * cs[i] - c * sn[i];
      v[i + rh] = a * sn[i] + c * cs[i];
    }
  };
  auto task = [&](int t, int) {
    const float *cs = rope_cos_ + size_t(t) * half, *sn = rope_sin_ + size_t(t) * half;
    for (int h = 0; h < cfg.n_head; h++) norm_rope(q_ + size_t(t) * QD + size_t(h) * hd, q_norm, cs, sn);
    state_slot* slot = b.seqs[seq_of_[t]].slot;
    const size_t off = size_t(pos_[t]) * hd * dtype_size(slot->type);
    for (int h = 0; h < cfg.n_kv_head; h++) {
      float* k = k_ + size_t(t) * KD + size_t(h) * hd;
      norm_rope(k, k_norm, cs, sn);
      kern->from_f32(k, slot->type, slot->region(layer, 0, h) + off, size_t(hd));
      kern->from_f32(v_ + size_t(t) * KD + size_t(h) * hd, slot->type, slot->region(layer, 1, h) + off, size_t(hd));
    }
  };
  pool_->run(b.n_tokens, task);
}

size_t model::attention_scratch_floats() const {
  const size_t hd = size_t(cfg.head_dim), rows = size_t(cfg.n_head / cfg.n_kv_head) * q_block;
  // q: [rows][hd]; acc: [rows][hd]; scores: [rows][kv_tile]; m, l: [rows]; q16: [rows][hd] and p16: [rows][kv_tile]
  // bf16; then attn_pv_bf16's scratch
  return 2 * rows * hd + rows * kv_tile + 2 * rows + (rows * hd + rows * kv_tile) / 2 + attn_pv_bf16_scratch_floats(kv_tile, int(hd)) + 64;
}

void model::attention(const batch& b, int layer) {
  const int hd = cfg.head_dim, g = cfg.n_head / cfg.n_kv_head, QD = cfg.n_head * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  // bf16 activations and a bf16 slot: q and P rounded to bf16 as the matmul inputs are; S = Q·Kᵀ and P·V by
  // vdpbf16ps where the level has it, else by the f32 kernels on the rounded values (the same products)
  const bool bf16_dot = kern->matmul_bf16 && kern->attn_pv_bf16 && hd % 32 == 0;
  int n_tasks = 0;  // per sequence: n_kv_head × ceil(count / q_block)
  for (int s = 0; s < b.n_seqs; s++) n_tasks += cfg.n_kv_head * ((b.seqs[s].count + q_block - 1) / q_block);
  auto task = [&](int task_id, int thread) {
    int s = 0, rest = task_id;
    for (;; s++) {
      const int here = cfg.n_kv_head * ((b.seqs[s].count + q_block - 1) / q_block);
      if (rest < here) break;
      rest -= here;
    }
    const seq_entry& e = b.seqs[s];
    const int head = rest % cfg.n_kv_head, qb = rest / cfg.n_kv_head;
    const int t0 = e.offset + qb * q_block, nt = std::min(q_block, e.offset + e.count - t0), rows = nt * g;
    float* mm_scratch = thread_scratch_[size_t(thread)];
    float *q = mm_scratch + matmul_scratch_, *acc = q + size_t(rows) * hd, *sc = acc + size_t(rows) * hd,
          *m = sc + size_t(rows) * kv_tile, *l = m + rows;
    uint16_t *q16 = reinterpret_cast<uint16_t*>(l + rows), *p16 = q16 + size_t(rows) * hd;
    void* pv_scratch = p16 + size_t(rows) * kv_tile;
    // row r: token t0 + r / g, query head head * g + r % g
    for (int r = 0; r < rows; r++) {
      const float* src = q_ + size_t(t0 + r / g) * QD + size_t(head * g + r % g) * hd;
      for (int d = 0; d < hd; d++) q[size_t(r) * hd + d] = src[d] * scale;
      std::fill(acc + size_t(r) * hd, acc + size_t(r + 1) * hd, 0.0f);
      m[r] = -std::numeric_limits<float>::infinity();
      l[r] = 0.0f;
    }
    const state_slot* slot = e.slot;
    const size_t es = dtype_size(slot->type);
    const bool bf16_in = bf16_act_ && slot->type == dtype::bf16, by_dot = bf16_in && bf16_dot && rows >= dot_min_rows;
    if (by_dot) kern->from_f32(q, dtype::bf16, q16, size_t(rows) * hd);
    else if (bf16_in)
      for (float* v = q; v < q + size_t(rows) * hd; v++) *v = bf16_to_f32(f32_to_bf16(*v));
    const char* kbase = slot->region(layer, 0, head);
    const char* vbase = slot->region(layer, 1, head);
    const int last = pos_[t0 + nt - 1];  // the highest position any row sees
    for (int p0 = 0; p0 <= last; p0 += kv_tile) {
      const int tn = std::min(kv_tile, last + 1 - p0);
      const char* kt = kbase + size_t(p0) * hd * es;
      if (by_dot) kern->matmul_bf16(q16, rows, hd, kt, 0, tn, sc, kv_tile, mm_scratch);
      else kern->matmul(q, rows, hd, kt, slot->type, 0, tn, sc, kv_tile, mm_scratch);
      for (int r = 0; r < rows; r++) {
        float* sr = sc + size_t(r) * kv_tile;
        const int visible = std::min(tn, pos_[t0 + r / g] - p0 + 1);
        if (visible <= 0) {
          std::fill(sr, sr + tn, 0.0f);
          continue;
        }
        const float mx = std::max(m[r], kern->max(sr, visible));
        const float corr = std::exp(m[r] - mx);  // 0 on the first tile (m = -inf)
        l[r] = l[r] * corr + kern->exp_sum(sr, visible, mx);
        m[r] = mx;
        std::fill(sr + visible, sr + tn, 0.0f);
        if (corr != 1.0f) kern->scale(acc + size_t(r) * hd, corr, hd);
      }
      const char* vt = vbase + size_t(p0) * hd * es;
      if (by_dot) {
        for (int r = 0; r < rows; r++) {
          uint16_t* pr = p16 + size_t(r) * kv_tile;
          kern->from_f32(sc + size_t(r) * kv_tile, dtype::bf16, pr, size_t(tn));
          if (tn % 2) pr[tn] = 0;
        }
        kern->attn_pv_bf16(p16, rows, kv_tile, tn, reinterpret_cast<const uint16_t*>(vt), hd, acc, hd, pv_scratch);
      } else {
        if (bf16_in)
          for (int r = 0; r < rows; r++)
            for (float* v = sc + size_t(r) * kv_tile; v < sc + size_t(r) * kv_tile + tn; v++) *v = bf16_to_f32(f32_to_bf16(*v));
        kern->attn_pv(sc, rows, kv_tile, tn, vt, slot->type, hd, acc, hd);
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
