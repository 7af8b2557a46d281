// Row-wise building blocks over the thread pool: RMSNorm rows, the residual add, the dense SwiGLU MLP, and the
// output head (final norm + lm_head) for the rows whose logits are asked.
#include <algorithm>
#include <cmath>

#include "model.h"

namespace resident {

void model::rmsnorm_rows(float* y, const float* x, const float* w, int n_rows) {
  const int H = cfg.hidden;
  auto task = [&](int t, int) {
    const float* xr = x + size_t(t) * H;
    const float s = 1.0f / std::sqrt(kern->sum_sq(xr, H) / float(H) + cfg.eps);
    kern->scale_mul(y + size_t(t) * H, xr, w, s, H);
  };
  pool_->run(n_rows, task);
}

void model::add_residual(int n) {
  const int H = cfg.hidden;
  pool_->run(n, [&](int t, int) { kern->axpy(x_ + size_t(t) * H, 1.0f, tmp_ + size_t(t) * H, H); });
}

// g_, u_: [n][inter] = xn_ · gateᵀ, xn_ · upᵀ (one pool run); g_ = silu(g_) · u_; tmp_: [n][hidden] = g_ · downᵀ.
void model::swiglu_mlp(const mlp_weights& w, int n) {
  const weight* gate_up[2] = {&w.gate, &w.up};
  float* const gate_up_out[2] = {g_, u_};
  matmul_many(xn_, n, gate_up, gate_up_out, 2);
  const int I = cfg.inter;
  pool_->run(n, [&](int t, int) { kern->silu_mul(g_ + size_t(t) * I, u_ + size_t(t) * I, I); });
  matmul(g_, n, w.down, tmp_);
}

void model::logits(const batch& b) {
  const int H = cfg.hidden;
  for (int i = 0; i < b.n_logits; i++)  // gather: tmp[i] = x[row i], then xn[i] = final_norm(tmp[i])
    std::copy(x_ + size_t(b.logit_rows[i]) * H, x_ + size_t(b.logit_rows[i] + 1) * H, tmp_ + size_t(i) * H);
  rmsnorm_rows(xn_, tmp_, final_norm_, b.n_logits);
  matmul(xn_, b.n_logits, lm_head_, b.logits);
}

}  // namespace resident
