// Next-token choice over one vocabulary row (sampling.h). The whole-row passes — mask, argmax, exp — run here so a
// step of many sequences does not spend milliseconds per token on them in JavaScript; exp and its sums are the
// level's kernels (exp_sum, as attention's softmax).
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace resident {

namespace {

constexpr float neg_inf = -std::numeric_limits<float>::infinity();
constexpr int sum_block = 4096;     // values per exp_sum call; the draw skips whole blocks by their sums
constexpr int nucleus_bisections = 14;  // top-p: the boundary's band of weights is 2^-14 of the first range's bits

// Scratch kept between calls (sample_row runs on the JS thread; thread_local keeps any other caller apart).
struct sample_scratch {
  std::vector<double> block_sums;
  std::vector<int> band;  // top-p: the ids in the boundary's band of weights
  std::vector<std::pair<float, int>> top;  // (logit, id)
};
thread_local sample_scratch tls;

// Masked-out tokens (and bits past the row) set to −∞; the count of allowed tokens of the row.
int mask_apply(float* v, int V, const uint32_t* mask) {
  int allowed = 0;
  for (int base = 0; base < V; base += 32) {
    const int end = std::min(32, V - base);
    const uint32_t bits = end == 32 ? mask[base / 32] : mask[base / 32] & ((1u << end) - 1);
    allowed += __builtin_popcount(bits);
    if (bits == 0xffffffffu) continue;
    for (int b = 0; b < end; b++)
      if (!(bits >> b & 1)) v[base + b] = neg_inf;
  }
  return allowed;
}

// The index of the largest value, the lowest on ties; NaN entries become −∞ first (never chosen, weight 0).
int argmax_clean(const kernels& k, float* v, int V) {
  if (std::isnan(k.sum_sq(v, V)))  // only a NaN makes the sum NaN (±∞ square to +∞)
    for (int i = 0; i < V; i++)
      if (v[i] != v[i]) v[i] = neg_inf;
  const float best = k.max(v, V);
  if (!(best > neg_inf)) return 0;
  int i = 0;
  while (v[i] != best) i++;
  return i;
}

// One of n candidates drawn ∝ weight(j): id(j) of the first whose running sum passes u · Σ weights (float64, in order).
template <typename W, typename I>
int draw_list(int n, W weight, I id, double u) {
  double z = 0;
  for (int j = 0; j < n; j++) z += weight(j);
  double r = u * z;
  for (int j = 0; j < n; j++)
    if ((r -= weight(j)) < 0) return id(j);
  return id(n - 1);  // rounding left r ≥ 0 past the end
}

// Top-k: the k best (logit, id) of v, best first (ties: lower id), −∞ skipped; then top-p on the renormalised k and
// min-p, as llama.cpp and Hugging Face order them.
int sample_top_k(const float* v, int V, const sample_params& p, float max, double u) {
  auto& top = tls.top;
  top.clear();
  // heap under `better`: its front is the weakest entry kept
  const auto better = [](const std::pair<float, int>& a, const std::pair<float, int>& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  const size_t k = size_t(std::min(p.top_k, V));
  for (int i = 0; i < V; i++) {
    const float x = v[i];
    if (x == neg_inf) continue;
    if (top.size() < k) {
      top.emplace_back(x, i);
      std::push_heap(top.begin(), top.end(), better);
    } else if (x > top.front().first) {  // a later equal value has a higher id: not better
      std::pop_heap(top.begin(), top.end(), better);
      top.back() = {x, i};
      std::push_heap(top.begin(), top.end(), better);
    }
  }
  std::sort(top.begin(), top.end(), better);
  std::vector<double> probs(top.size());
  for (size_t j = 0; j < top.size(); j++) probs[j] = std::exp((double(top[j].first) - max) / p.temperature);
  size_t n = top.size();
  if (p.top_p < 1) {
    double total = 0, cum = 0;
    for (double x : probs) total += x;
    size_t m = 0;
    while (m < n) {
      cum += probs[m++];
      if (cum >= double(p.top_p) * total) break;
    }
    n = m;
  }
  if (p.min_p > 0) {
    size_t m = 1;  // probs[0] = 1, the maximum
    while (m < n && probs[m] >= p.min_p) m++;
    n = m;
  }
  return draw_list(int(n), [&](int j) { return probs[size_t(j)]; }, [&](int j) { return top[size_t(j)].second; }, u);
}

inline uint32_t bits_of(float w) {
  uint32_t b;
  std::memcpy(&b, &w, 4);
  return b;
}

// Σ of the weights ≥ cut, in blocks (float64 across blocks).
double mass_at_least(const kernels& k, const float* w, int V, float cut) {
  double s = 0;
  for (int i = 0; i < V; i += sum_block) s += k.keep_sum(w + i, std::min(sum_block, V - i), cut, nullptr);
  return s;
}

// The nucleus of weights w (v after exp; the maximum's weight is 1) of total z: the fewest most likely tokens whose
// mass reaches top_p · z (ties: lower id) is {w > w_last} ∪ {w = w_last, id ≤ id_last}; returns (w_last, id_last).
// Without sorting the row: bisect a band [lo, hi) of weights (on their bits, which order as positive floats do)
// holding the boundary — mass(≥ lo) reaches the target, mass(≥ hi) does not — then sort only the band's tokens.
std::pair<float, int> nucleus_edge(const kernels& k, const float* w, int V, double z, float top_p) {
  const double target = double(top_p) * z;
  const auto as_float = [](uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; };
  // weights below (1 − top_p) · z / V weigh less than (1 − top_p) · z together: the boundary is above them
  uint32_t lo = bits_of(float((1.0 - double(top_p)) * z / V)), hi = bits_of(1.0f) + 1;
  if (mass_at_least(k, w, V, as_float(lo)) < target) lo = 0;  // rounding: start from every weight
  double above = mass_at_least(k, w, V, as_float(hi));  // mass(≥ hi)
  for (int step = 0; step < nucleus_bisections && hi - lo > 1; step++) {
    const uint32_t mid = lo + (hi - lo) / 2;
    const double m = mass_at_least(k, w, V, as_float(mid));
    if (m >= target) lo = mid;
    else hi = mid, above = m;
  }
  const float band_lo = as_float(lo), band_hi = as_float(hi);
  auto& band = tls.band;
  band.resize(size_t(V));
  size_t n = 0;
  for (int i = 0; i < V; i++) {  // branch-free: which weights fall in the band is unpredictable
    band[n] = i;
    n += size_t(w[i] >= band_lo) & size_t(w[i] < band_hi);
  }
  band.resize(n);
  std::sort(band.begin(), band.end(), [&](int a, int b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
  std::pair<float, int> last{band_hi, -1};
  for (int i : band) {  // the band's own, most likely first, until the mass reaches the target
    last = {w[i], i};
    if ((above += w[i]) >= target) break;
  }
  return last;
}

}  // namespace

int sample_row(const kernels& k, float* v, int V, const uint32_t* mask, const sample_params& p, double u) {
  if (mask && mask_apply(v, V, mask) == 0) return sample_mask_empty;
  const int top = argmax_clean(k, v, V);
  if (!(v[top] > neg_inf)) return sample_none_finite;
  if (p.temperature == 0) return top;
  const float max = v[top];
  if (p.top_k > 0) return sample_top_k(v, V, p, max, u);

  // weights w = exp(l / T − max / T), in place, with their sums per block (the maximum's weight is exactly 1)
  const float inv_t = 1.0f / p.temperature;
  if (!std::isfinite(max * inv_t)) return top;  // a temperature so small that l / T overflows: greedy
  k.scale(v, inv_t, V);
  const int nb = (V + sum_block - 1) / sum_block;
  auto& bs = tls.block_sums;
  bs.assign(size_t(nb), 0.0);
  double z = 0;
  for (int b = 0; b < nb; b++) z += bs[size_t(b)] = k.exp_sum(v + size_t(b) * sum_block, std::min(sum_block, V - b * sum_block), max * inv_t);

  if (p.top_p < 1 || p.min_p > 0) {  // weights below the cut become 0, the block sums follow
    std::pair<float, int> cut{p.min_p, V};  // keep w > cut.first, or w = cut.first with id ≤ cut.second
    if (p.top_p < 1) {
      const std::pair<float, int> edge = nucleus_edge(k, v, V, z, p.top_p);
      if (edge.first >= p.min_p) cut = edge;
    }
    const float above = std::nextafter(cut.first, std::numeric_limits<float>::infinity());
    z = 0;
    for (int b = 0; b < nb; b++) {
      const int i0 = b * sum_block, i1 = std::min(V, i0 + sum_block), tie_end = std::clamp(cut.second + 1, i0, i1);
      // ids up to cut.second keep weights ≥ the cut, later ids only those above it
      const double s = (tie_end > i0 ? k.keep_sum(v + i0, tie_end - i0, cut.first, v + i0) : 0.0) + (i1 > tie_end ? k.keep_sum(v + tie_end, i1 - tie_end, above, v + tie_end) : 0.0);
      z += bs[size_t(b)] = s;
    }
  }

  // the draw: skip whole blocks by their sums, then walk the block the point falls in
  double r = u * z;
  for (int b = 0; b < nb; b++) {
    if (r >= bs[size_t(b)]) {
      r -= bs[size_t(b)];
      continue;
    }
    const int i0 = b * sum_block, i1 = std::min(V, i0 + sum_block);
    int last = top;
    for (int i = i0; i < i1; i++) {
      if (v[i] > 0) last = i;
      if ((r -= v[i]) < 0) return i;
    }
    return last;  // the block's float sum exceeded the walk's float64 one
  }
  return top;  // rounding left r past the last block
}

}  // namespace resident
