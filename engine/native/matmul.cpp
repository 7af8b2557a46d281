// Matmul over the thread pool: tasks of weight rows × token blocks, the bf16-activation input, several matmuls of
// one input in a single pool run.
#include <algorithm>
#include <cmath>

#include "model.h"

namespace resident {

namespace {
constexpr int decode_tokens = 16;  // up to this many rows, bf16_input converts on the calling thread
}  // namespace

const uint16_t* model::bf16_input(float* x, int n, int k, bool bf16_weight) {
  if (!bf16_act_ || !bf16_weight) return nullptr;
  const bool dot = kern->matmul_bf16 && xb_ && k % 32 == 0;
  auto convert = [&](int t, int) {
    float* xr = x + size_t(t) * k;
    if (dot) kern->from_f32(xr, dtype::bf16, xb_ + size_t(t) * k, size_t(k));
    else
      for (float* v = xr; v < xr + k; v++) *v = bf16_to_f32(f32_to_bf16(*v));
  };
  if (n <= decode_tokens) {  // a few rows: not worth a pool run (one barrier per matmul)
    for (int t = 0; t < n; t++) convert(t, 0);
  } else {
    pool_->run(n, convert);
  }
  return dot ? xb_ : nullptr;
}

const char* model::quant_input(const float* x, int n, int k, dtype wt) {
  if (!xq_ || !quant_panel_takes(*kern, wt) || n < quant_panel_min_tokens) return nullptr;
  constexpr int chunk = 8;  // tokens per pool task
  pool_->run((n + chunk - 1) / chunk, [&](int c, int) {
    const int t0 = c * chunk;
    kern->quant_panel_x(x + size_t(t0) * k, std::min(chunk, n - t0), k, block_elems(wt), xq_ + size_t(t0) * panel_x_row_bytes(k));
  });
  return xq_;
}

void model::matmul_rows(const float* x, const uint16_t* xb, const char* xq, int n, const weight& w, int r0, int r1, float* y,
                        int ldy, float* scratch) const {
  // packed weights exist only where bf16_input gives xb (bf16 activations, matmul_bf16, k % 32 == 0)
  if (xb && w.packed) kern->matmul_bf16_packed(xb, n, w.cols, w.data, w.rows, r0, r1, y, ldy);
  else if (xb && w.type == dtype::bf16) kern->matmul_bf16(xb, n, w.cols, w.data, r0, r1, y, ldy, scratch);
  else if (xq && quant_panel_takes(*kern, w.type) && n >= quant_panel_min_tokens) kern->quant_matmul_panel(xq, n, w.cols, w.data, w.type, r0, r1, y, ldy, scratch);
  else kern->matmul(x, n, w.cols, w.data, w.type, r0, r1, y, ldy, scratch);
}

void model::matmul(float* x, int n, const weight& w, float* y, bool f32_input) {
  const uint16_t* xb = bf16_input(x, n, w.cols, w.type == dtype::bf16 && !f32_input);
  const char* xq = quant_input(x, n, w.cols, w.type);
  const int token_block = matmul_token_block(xb || xq);
  const int row_chunk = matmul_task_rows(*kern, std::min(n, token_block), is_block_quant(w.type) && !xq);
  const int n_rc = (w.rows + row_chunk - 1) / row_chunk, n_tb = (n + token_block - 1) / token_block;
  auto task = [&](int t, int thread) {
    const int rc = t % n_rc, tb = t / n_rc;
    const int r0 = rc * row_chunk, r1 = std::min(w.rows, r0 + row_chunk);
    const int t0 = tb * token_block, tn = std::min(n - t0, token_block);
    const size_t xo = size_t(t0) * w.cols;
    matmul_rows(x + xo, xb ? xb + xo : nullptr, xq ? xq + size_t(t0) * panel_x_row_bytes(w.cols) : nullptr, tn, w, r0, r1,
                y + size_t(t0) * w.rows, w.rows, thread_scratch_[size_t(thread)]);
  };
  pool_->run(n_rc * n_tb, task, stream_order(n));
}

void model::matmul_many(float* x, int n, const weight* const* w, float* const* y, int count) {
  bool any_bf16 = false, any_quant = false;  // the weights share x and its width
  const weight* first_quant = nullptr;  // panel activation rows are made for its block size, if every panel weight has it
  bool one_block_size = true;
  for (int i = 0; i < count; i++) {
    const dtype t = w[i]->type;
    any_bf16 = any_bf16 || t == dtype::bf16, any_quant = any_quant || is_block_quant(t);
    if (!quant_panel_takes(*kern, t)) continue;
    if (!first_quant) first_quant = w[i];
    one_block_size = one_block_size && block_elems(t) == block_elems(first_quant->type);
  }
  const uint16_t* xb = bf16_input(x, n, w[0]->cols, any_bf16);
  const char* xq = first_quant && one_block_size ? quant_input(x, n, w[0]->cols, first_quant->type) : nullptr;
  const int token_block = matmul_token_block(xb || xq);
  const int row_chunk = matmul_task_rows(*kern, std::min(n, token_block), any_quant && !xq);
  int first[5] = {0, 0, 0, 0, 0};  // first task of each matmul; tasks of matmul i: [first[i], first[i + 1])
  const int n_tb = (n + token_block - 1) / token_block;
  for (int i = 0; i < count; i++) first[i + 1] = first[i] + (w[i]->rows + row_chunk - 1) / row_chunk * n_tb;
  auto task = [&](int t, int thread) {
    int i = 0;
    while (t >= first[i + 1]) i++;
    const weight& wi = *w[i];
    const int local = t - first[i], n_rc = (wi.rows + row_chunk - 1) / row_chunk;
    const int rc = local % n_rc, tb = local / n_rc;
    const int r0 = rc * row_chunk, r1 = std::min(wi.rows, r0 + row_chunk);
    const int t0 = tb * token_block, tn = std::min(n - t0, token_block);
    const size_t xo = size_t(t0) * wi.cols;
    matmul_rows(x + xo, xb ? xb + xo : nullptr, xq ? xq + size_t(t0) * panel_x_row_bytes(wi.cols) : nullptr, tn, wi, r0, r1,
                y[i] + size_t(t0) * wi.rows, wi.rows, thread_scratch_[size_t(thread)]);
  };
  pool_->run(first[count], task, stream_order(n));
}

}  // namespace resident
