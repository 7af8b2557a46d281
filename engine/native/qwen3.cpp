// The Qwen3 forward pass over a batch of sequences (each appending tokens to its own KV slot):
// embed → per layer [RMSNorm → Q/K/V → q_norm/k_norm → RoPE (NEOX) → store K/V → attention → o_proj
// + residual → RMSNorm → SwiGLU MLP + residual] → final norm → lm_head for the requested rows.
#include <algorithm>
#include <cmath>

#include "model.h"

namespace resident {

namespace {
struct count_allocations_scope {  // allocations on this thread count as forward allocations
  bool prev = t_count_allocations;
  count_allocations_scope() { t_count_allocations = true; }
  ~count_allocations_scope() { t_count_allocations = prev; }
};
}  // namespace

// Per token: q_norm and RoPE on every q head; k_norm and RoPE on every k head; K and V written to the slot.
void model::qk_norm_rope_store(const batch& b, int layer) {
  const int hd = cfg.head_dim, half = hd / 2, QD = cfg.n_head * hd, KD = cfg.n_kv_head * hd;
  const layer_weights& L = layers_[size_t(layer)];
  auto norm_rope = [&](float* v, const float* w, const float* cs, const float* sn) {
    const float s = 1.0f / std::sqrt(kern->sum_sq(v, hd) / float(hd) + cfg.eps);
    kern->scale_mul(v, v, w, s, hd);
    for (int i = 0; i < half; i++) {  // NEOX: rotate pairs (i, i + half)
      const float a = v[i], c = v[i + half];
      v[i] = a * cs[i] - c * sn[i];
      v[i + half] = a * sn[i] + c * cs[i];
    }
  };
  auto task = [&](int t, int) {
    const float *cs = rope_cos_ + size_t(t) * half, *sn = rope_sin_ + size_t(t) * half;
    for (int h = 0; h < cfg.n_head; h++) norm_rope(q_ + size_t(t) * QD + size_t(h) * hd, L.q_norm, cs, sn);
    kv_slot* slot = b.seqs[seq_of_[t]].slot;
    const size_t off = size_t(pos_[t]) * hd * dtype_size(slot->type);
    for (int h = 0; h < cfg.n_kv_head; h++) {
      float* k = k_ + size_t(t) * KD + size_t(h) * hd;
      norm_rope(k, L.k_norm, cs, sn);
      kern->from_f32(k, slot->type, slot->region(layer, 0, h) + off, size_t(hd));
      kern->from_f32(v_ + size_t(t) * KD + size_t(h) * hd, slot->type, slot->region(layer, 1, h) + off, size_t(hd));
    }
  };
  pool_->run(b.n_tokens, task);
}

void model::logits(const batch& b) {
  const int H = cfg.hidden;
  for (int i = 0; i < b.n_logits; i++)  // gather: xn[i] = final_norm(x[row i])
    std::copy(x_ + size_t(b.logit_rows[i]) * H, x_ + size_t(b.logit_rows[i] + 1) * H, tmp_ + size_t(i) * H);
  rmsnorm_rows(xn_, tmp_, final_norm_, b.n_logits);
  matmul(xn_, b.n_logits, lm_head_, b.logits);
}

result model::forward(const batch& b) {
  const int n = b.n_tokens, H = cfg.hidden, half = cfg.head_dim / 2;
  if (n < 1 || n > max_tokens_)
    return result::fail(status::argument_error, "a forward call carries 1.." + std::to_string(max_tokens_) + " tokens, got " + std::to_string(n));
  if (b.n_logits < 0 || b.n_logits > n) return result::fail(status::argument_error, "bad logits row count");
  for (int i = 0; i < n; i++)
    if (b.tokens[i] < 0 || b.tokens[i] >= cfg.vocab)
      return result::fail(status::argument_error, "token id " + std::to_string(b.tokens[i]) + " is outside the vocabulary of " + std::to_string(cfg.vocab));
  for (int i = 0; i < b.n_logits; i++)
    if (b.logit_rows[i] < 0 || b.logit_rows[i] >= n) return result::fail(status::argument_error, "logits row outside the batch");
  int covered = 0;
  for (int s = 0; s < b.n_seqs; s++) {
    const seq_entry& e = b.seqs[s];
    if (e.offset != covered || e.count < 1) return result::fail(status::argument_error, "sequences must cover the batch in order");
    covered += e.count;
    if (e.slot->shape.n_layer != cfg.n_layer || e.slot->shape.n_kv_head != cfg.n_kv_head || e.slot->shape.head_dim != cfg.head_dim)
      return result::fail(status::argument_error, "KV slot does not belong to this model's shape");
    if (e.slot->length + size_t(e.count) > e.slot->capacity)
      return result::fail(status::capacity_error, "KV slot capacity " + std::to_string(e.slot->capacity) + " exceeded: " +
                                                      std::to_string(e.slot->length) + " + " + std::to_string(e.count) + " positions");
    for (int r = 0; r < s; r++)
      if (b.seqs[r].slot == e.slot) return result::fail(status::argument_error, "a slot appears twice in one forward call");
  }
  if (covered != n) return result::fail(status::argument_error, "sequences must cover the batch");

  std::lock_guard<std::mutex> serial(forward_mu_);  // one forward at a time per model (shared buffers)
  count_allocations_scope counting;
  for (int s = 0; s < b.n_seqs; s++)
    for (int i = 0; i < b.seqs[s].count; i++) {
      pos_[b.seqs[s].offset + i] = int32_t(b.seqs[s].slot->length) + i;
      seq_of_[b.seqs[s].offset + i] = s;
    }
  auto prologue = [&](int t, int) {  // RoPE angles and the token embedding
    for (int i = 0; i < half; i++) {
      const float a = float(pos_[t]) * inv_freq_[i];
      rope_cos_[size_t(t) * half + i] = std::cos(a);
      rope_sin_[size_t(t) * half + i] = std::sin(a);
    }
    kern->to_f32(static_cast<const char*>(embed_.data) + size_t(b.tokens[t]) * H * dtype_size(embed_.type), embed_.type,
                 x_ + size_t(t) * H, size_t(H));
  };
  pool_->run(n, prologue);

  auto add_residual = [&](int t, int) { kern->axpy(x_ + size_t(t) * H, 1.0f, tmp_ + size_t(t) * H, H); };
  auto swiglu = [&](int t, int) { kern->silu_mul(g_ + size_t(t) * cfg.inter, u_ + size_t(t) * cfg.inter, cfg.inter); };
  moe_begin_step();
  for (int l = 0; l < cfg.n_layer; l++) {
    const layer_weights& L = layers_[size_t(l)];
    rmsnorm_rows(xn_, x_, L.attn_norm, n);
    const weight* qkv[3] = {&L.q, &L.k, &L.v};
    float* const qkv_out[3] = {q_, k_, v_};
    matmul_many(xn_, n, qkv, qkv_out, 3);
    qk_norm_rope_store(b, l);
    attention(b, l);
    matmul(att_, n, L.o, tmp_);
    pool_->run(n, add_residual);
    rmsnorm_rows(xn_, x_, L.ffn_norm, n);
    if (L.moe) {
      moe_mlp(l, n);  // tmp_ = MoE(xn_), moe.cpp
    } else {
      const weight* gate_up[2] = {&L.gate, &L.up};
      float* const gate_up_out[2] = {g_, u_};
      matmul_many(xn_, n, gate_up, gate_up_out, 2);
      pool_->run(n, swiglu);
      matmul(g_, n, L.down, tmp_);
    }
    pool_->run(n, add_residual);
  }
  for (int s = 0; s < b.n_seqs; s++) {
    kv_slot* slot = b.seqs[s].slot;
    slot->note_written(slot->length + size_t(b.seqs[s].count));
    slot->length += size_t(b.seqs[s].count);
    slot->tokens_forwarded += uint64_t(b.seqs[s].count);
  }
  if (b.n_logits > 0) logits(b);
  forward_calls++;
  tokens_processed += uint64_t(n);
  return result::ok();
}

}  // namespace resident
