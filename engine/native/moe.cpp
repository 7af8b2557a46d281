// The sparse mixture-of-experts block (Qwen3-MoE softmax routing, or sigmoid routing with a score-correction bias) with dynamic expert activation. Per MoE layer of a
// forward call over n tokens:
//   route:   logits = xn · routerᵀ (f32 accumulation), softmax over the experts (f32), top-k by
//            probability (ties → lower expert index), weights renormalized over the k when norm_topk;
//   group:   the n·k (token, rank) pairs are sorted by expert into contiguous rows, token order inside
//            an expert; xg[row] = xn[token of row];
//   gate/up: one task per (routed expert, 16-row chunk of moe_inter): g, u = xg[rows of e] · gate/upᵀ,
//            then g = silu(g) · u on that chunk;
//   down:    one task per (routed expert, 16-row chunk of hidden): xg[rows of e] = g[rows of e] · downᵀ
//            (xg's inputs are dead by then, so it holds the expert outputs);
//   combine: tmp[t] = Σ_rank w[t][rank] · xg[route_row[t][rank]], in rank order, so a token's result
//            does not depend on which other tokens share the call.
// Only routed experts' weights are touched, each row chunk once per chunk of up to 1024 tokens (token
// blocks of 64 inside a task re-read it from cache, not from memory). Nothing here allocates.
#include <algorithm>
#include <cmath>
#include <limits>

#include "model.h"

namespace resident {

namespace {
constexpr int max_chunk = 1024;  // tokens per sparse-block pass: bounds the routed-row buffers
}  // namespace

void model::alloc_moe_buffers() {
  moe_tokens_ = std::min(max_tokens_, max_chunk);
  const size_t T = size_t(moe_tokens_), E = size_t(cfg.n_expert), K = size_t(cfg.n_expert_used), R = T * K,
               H = size_t(cfg.hidden), MI = size_t(cfg.moe_inter), LE = size_t(cfg.n_layer) * E;
  auto f = [&](size_t n) { return alloc_floats(n); };
  auto i32 = [&](size_t n) { return reinterpret_cast<int32_t*>(f(n)); };
  router_logits_ = f(T * E);
  route_w_ = f(R);
  route_e_ = i32(R);
  route_row_ = i32(R);
  row_token_ = i32(R);
  expert_fill_ = i32(E);
  static_assert(sizeof(moe_block) == 3 * sizeof(int32_t), "moe_block is three int32");
  blocks_ = reinterpret_cast<moe_block*>(f(3 * E));
  xg_ = f(R * H);
  gg_ = f(R * MI);
  ug_ = f(R * MI);
  exp_total_.reset(new std::atomic<uint64_t>[LE]);
  exp_step_.reset(new std::atomic<uint64_t>[LE]);
  exp_step_bytes_.reset(new std::atomic<uint64_t>[LE]);
  for (size_t i = 0; i < LE; i++) {
    exp_total_[i].store(0);
    exp_step_[i].store(0);
    exp_step_bytes_[i].store(0);
  }
}

void model::moe_begin_step() {
  const size_t LE = size_t(cfg.n_layer) * size_t(cfg.n_expert);
  if (!exp_step_) return;
  for (size_t i = 0; i < LE; i++) {
    exp_step_[i].store(0, std::memory_order_relaxed);
    exp_step_bytes_[i].store(0, std::memory_order_relaxed);
  }
}

void model::read_expert_stats(uint64_t* total, uint64_t* step, uint64_t* step_bytes) const {
  const size_t LE = size_t(cfg.n_layer) * size_t(cfg.n_expert);
  if (!exp_total_) return;
  for (size_t i = 0; i < LE; i++) {
    total[i] = exp_total_[i].load(std::memory_order_relaxed);
    step[i] = exp_step_[i].load(std::memory_order_relaxed);
    step_bytes[i] = exp_step_bytes_[i].load(std::memory_order_relaxed);
  }
}

void model::reset_expert_stats() {
  const size_t LE = size_t(cfg.n_layer) * size_t(cfg.n_expert);
  if (!exp_total_) return;
  for (size_t i = 0; i < LE; i++) exp_total_[i].store(0, std::memory_order_relaxed);
}

// Sigmoid gating of one token: p = σ(logits) in place; the k experts with the highest p + bias (ties → lower
// index), weighted by their p (renormalized over the k when norm_topk).
void model::route_sigmoid(float* p, const float* bias, int32_t* sel, float* w) const {
  const int E = cfg.n_expert, K = cfg.n_expert_used;
  for (int e = 0; e < E; e++) p[e] = 1.0f / (1.0f + std::exp(-p[e]));
  float picked = 0.0f;
  for (int j = 0; j < K; j++) {
    int best = -1;
    float bv = -std::numeric_limits<float>::infinity();
    for (int e = 0; e < E; e++) {
      if (p[e] < 0.0f) continue;  // chosen already (marked -1)
      const float s = p[e] + (bias ? bias[e] : 0.0f);
      if (s > bv) bv = s, best = e;
    }
    if (best < 0)  // NaN scores: the lowest expert not chosen yet
      for (best = 0; std::find(sel, sel + j, best) != sel + j; best++) {}
    const float pw = p[best] >= 0.0f ? p[best] : 0.0f;
    sel[j] = best;
    w[j] = pw == pw ? pw : 0.0f;
    picked += w[j];
    p[best] = -1.0f;
  }
  const float inv = cfg.norm_topk && picked > 0.0f ? 1.0f / picked : 1.0f;
  for (int j = 0; j < K; j++) w[j] *= inv;
}

void model::moe_mlp(int layer, const moe_weights& w, int n) {
  for (int t0 = 0; t0 < n; t0 += moe_tokens_)
    moe_chunk(layer, w, xn_ + size_t(t0) * cfg.hidden, std::min(moe_tokens_, n - t0), tmp_ + size_t(t0) * cfg.hidden);
}

void model::moe_chunk(int layer, const moe_weights& mw, float* x, int n, float* out) {
  const int H = cfg.hidden, E = cfg.n_expert, K = cfg.n_expert_used, MI = cfg.moe_inter;
  const size_t stat0 = size_t(layer) * size_t(E);

  // Router: probabilities over all experts, then the k best in rank order.
  matmul(x, n, mw.router, router_logits_, true);  // f32 inputs whatever the mode: routing is discontinuous
  auto route = [&](int t, int) {
    float* p = router_logits_ + size_t(t) * E;
    int32_t* sel = route_e_ + size_t(t) * K;
    float* w = route_w_ + size_t(t) * K;
    if (cfg.gating == moe_gating::sigmoid) {
      route_sigmoid(p, mw.score_bias, sel, w);
      return;
    }
    float mx = p[0];
    for (int e = 1; e < E; e++) mx = std::max(mx, p[e]);
    float sum = 0.0f;
    for (int e = 0; e < E; e++) sum += (p[e] = std::exp(p[e] - mx));
    float picked = 0.0f;
    for (int j = 0; j < K; j++) {
      int best = -1;
      float bv = -1.0f;  // probabilities are >= 0; chosen experts are marked -1
      for (int e = 0; e < E; e++)
        if (p[e] > bv) bv = p[e], best = e;
      if (best < 0) {  // NaN logits: take the lowest expert not chosen yet (garbage in, no crash)
        for (best = 0; std::find(sel, sel + j, best) != sel + j; best++) {}
        bv = 0.0f;
      }
      sel[j] = best;
      w[j] = bv;
      picked += bv;
      p[best] = -1.0f;
    }
    const float inv = 1.0f / (cfg.norm_topk ? picked : sum);
    for (int j = 0; j < K; j++) w[j] *= inv;
  };
  pool_->run(n, route);

  // Group (token, rank) pairs by expert; active experts as blocks, largest first (better tail balance).
  std::fill(expert_fill_, expert_fill_ + E, 0);
  for (int i = 0; i < n * K; i++) expert_fill_[route_e_[i]]++;
  int nb = 0, row = 0;
  for (int e = 0; e < E; e++) {
    const int c = expert_fill_[e];
    if (c == 0) continue;
    exp_total_[stat0 + size_t(e)].fetch_add(uint64_t(c), std::memory_order_relaxed);
    exp_step_[stat0 + size_t(e)].fetch_add(uint64_t(c), std::memory_order_relaxed);
    moe_block bk{e, row, c};
    int i = nb++;
    for (; i > 0 && blocks_[i - 1].n < c; i--) blocks_[i] = blocks_[i - 1];
    blocks_[i] = bk;
    expert_fill_[e] = row;  // from now on: the next free row of e
    row += c;
  }
  for (int t = 0; t < n; t++)
    for (int j = 0; j < K; j++) {
      const int r = expert_fill_[route_e_[size_t(t) * K + j]]++;
      row_token_[r] = t;
      route_row_[size_t(t) * K + j] = r;
    }

  auto gather = [&](int r, int) {
    const float* src = x + size_t(row_token_[r]) * H;
    std::copy(src, src + H, xg_ + size_t(r) * H);
  };
  pool_->run(n * K, gather);
  const mlp_weights& e0 = mw.experts.front();  // one dtype per projection for all experts of a model
  const bool bf16_experts = e0.gate.type == dtype::bf16;
  const uint16_t* xgb = bf16_input(xg_, n * K, H, bf16_experts);
  // block-quant experts: panel activation rows when the largest block (blocks_[0]) takes quant panels; smaller blocks read xg_
  const int most = nb ? blocks_[0].n : 1;
  const bool panels = most >= quant_panel_min_tokens && block_elems(e0.gate.type) == block_elems(e0.up.type);
  const char* xgq = panels ? quant_input(xg_, n * K, H, e0.gate.type) : nullptr;
  const int token_block = matmul_token_block(xgb || xgq);  // routed rows per kernel call inside a task

  const bool quant_experts = is_block_quant(e0.gate.type) || is_block_quant(e0.down.type);
  const int row_chunk = matmul_task_rows(*kern, most, quant_experts);  // the tile kernels quantize x per task
  const int n_rc_mi = (MI + row_chunk - 1) / row_chunk, n_rc_h = (H + row_chunk - 1) / row_chunk;
  auto gate_up = [&](int task, int thread) {
    const moe_block& bk = blocks_[task / n_rc_mi];
    const int r0 = (task % n_rc_mi) * row_chunk, r1 = std::min(MI, r0 + row_chunk);
    const mlp_weights& ew = mw.experts[size_t(bk.expert)];
    float* scratch = thread_scratch_[size_t(thread)];
    for (int t0 = 0; t0 < bk.n; t0 += token_block) {
      const int tn = std::min(token_block, bk.n - t0);
      const size_t first = size_t(bk.row0 + t0);
      float *g = gg_ + first * MI, *u = ug_ + first * MI;
      const uint16_t* xb = xgb ? xgb + first * H : nullptr;
      const char* xq = xgq ? xgq + first * panel_x_row_bytes(H) : nullptr;
      matmul_rows(xg_ + first * H, xb, xq, tn, ew.gate, r0, r1, g, MI, scratch);
      matmul_rows(xg_ + first * H, xb, xq, tn, ew.up, r0, r1, u, MI, scratch);
      for (int i = 0; i < tn; i++) kern->silu_mul(g + size_t(i) * MI + r0, u + size_t(i) * MI + r0, r1 - r0);
    }
    const uint64_t bytes = uint64_t(r1 - r0) * (row_bytes(ew.gate.type, H) + row_bytes(ew.up.type, H));
    exp_step_bytes_[stat0 + size_t(bk.expert)].fetch_add(bytes, std::memory_order_relaxed);
  };
  pool_->run(nb * n_rc_mi, gate_up, stream_order(most));
  const uint16_t* ggb = bf16_input(gg_, n * K, MI, bf16_experts);  // xgb's buffer: no longer needed
  const char* ggq = panels ? quant_input(gg_, n * K, MI, e0.down.type) : nullptr;  // xgq's buffer too

  auto down = [&](int task, int thread) {
    const moe_block& bk = blocks_[task / n_rc_h];
    const int r0 = (task % n_rc_h) * row_chunk, r1 = std::min(H, r0 + row_chunk);
    const weight& w = mw.experts[size_t(bk.expert)].down;
    float* scratch = thread_scratch_[size_t(thread)];
    for (int t0 = 0; t0 < bk.n; t0 += token_block) {
      const int tn = std::min(token_block, bk.n - t0);
      const size_t first = size_t(bk.row0 + t0);
      matmul_rows(gg_ + first * MI, ggb ? ggb + first * MI : nullptr, ggq ? ggq + first * panel_x_row_bytes(MI) : nullptr, tn, w, r0,
                  r1, xg_ + first * H, H, scratch);
    }
    exp_step_bytes_[stat0 + size_t(bk.expert)].fetch_add(uint64_t(r1 - r0) * row_bytes(w.type, MI),
                                                         std::memory_order_relaxed);
  };
  pool_->run(nb * n_rc_h, down, stream_order(most));

  auto combine = [&](int t, int) {
    float* y = out + size_t(t) * H;
    std::fill(y, y + H, 0.0f);
    for (int j = 0; j < K; j++)
      kern->axpy(y, route_w_[size_t(t) * K + j], xg_ + size_t(route_row_[size_t(t) * K + j]) * H, H);
  };
  pool_->run(n, combine);
}

}  // namespace resident
