// One forward call over a batch of sequences, each appending tokens to its own state slot, for every
// architecture: check the batch, embed the tokens (and their RoPE angles), run the architecture's layers
// (forward_layers), advance the slots, then logits for the rows asked.
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

result model::check_batch(const batch& b) const {
  const int n = b.n_tokens;
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
    if (e.slot->shape != slot_shape_) return result::fail(status::argument_error, "the state slot does not belong to this model's shape");
    if (e.slot->length + size_t(e.count) > e.slot->capacity)
      return result::fail(status::capacity_error, "KV slot capacity " + std::to_string(e.slot->capacity) + " exceeded: " +
                                                      std::to_string(e.slot->length) + " + " + std::to_string(e.count) + " positions");
    if (!e.slot->state_current()) {
      const size_t at = e.slot->state_position();
      return result::fail(status::argument_error,
                          "the slot's recurrent state is stale: it belongs to " +
                              (at == state_slot::no_position ? std::string("no position") : "position " + std::to_string(at)) +
                              ", the slot holds " + std::to_string(e.slot->length) +
                              " positions; write the state for that position (writeState) before forwarding");
    }
    for (int r = 0; r < s; r++)
      if (b.seqs[r].slot == e.slot) return result::fail(status::argument_error, "a slot appears twice in one forward call");
  }
  if (covered != n) return result::fail(status::argument_error, "sequences must cover the batch");
  return result::ok();
}

void model::embed_tokens(const batch& b) {
  const int H = cfg.hidden, half = cfg.rot_dim() / 2;  // rope_cos_ / rope_sin_ rows keep head_dim / 2 floats
  for (int s = 0; s < b.n_seqs; s++)
    for (int i = 0; i < b.seqs[s].count; i++) {
      pos_[b.seqs[s].offset + i] = int32_t(b.seqs[s].slot->length) + i;
      seq_of_[b.seqs[s].offset + i] = s;
    }
  auto task = [&](int t, int) {  // RoPE angles and the token embedding
    for (int i = 0; i < half; i++) {
      const float a = float(pos_[t]) * inv_freq_[i];
      rope_cos_[size_t(t) * (cfg.head_dim / 2) + i] = std::cos(a);
      rope_sin_[size_t(t) * (cfg.head_dim / 2) + i] = std::sin(a);
    }
    kern->to_f32(static_cast<const char*>(embed_.data) + size_t(b.tokens[t]) * row_bytes(embed_.type, H), embed_.type,
                 x_ + size_t(t) * H, size_t(H));
  };
  pool_->run(b.n_tokens, task);
}

result model::forward(const batch& b) {
  if (result r = check_batch(b); !r) return r;
  std::lock_guard<std::mutex> serial(forward_mu_);  // one forward at a time per model (shared buffers)
  count_allocations_scope counting;
  for (int s = 0; s < b.n_seqs; s++) b.seqs[s].slot->prepare_state();
  embed_tokens(b);
  moe_begin_step();
  forward_layers(b);
  for (int s = 0; s < b.n_seqs; s++) b.seqs[s].slot->advance(size_t(b.seqs[s].count));
  if (b.n_logits > 0) logits(b);
  forward_calls++;
  tokens_processed += uint64_t(b.n_tokens);
  return result::ok();
}

}  // namespace resident
