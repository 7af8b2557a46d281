// Next-token choice over one vocabulary row (engine/decode/sampler.ts prepares the row: bias and penalties).
#pragma once
#include <cstdint>

#include "kernels.h"

namespace resident {

struct sample_params {
  float temperature;  // 0: greedy (argmax, lowest id on ties)
  int top_k;          // 0: off
  float top_p;        // 1: off
  float min_p;        // 0: off
};

constexpr int sample_none_finite = -1;  // no token has a finite logit
constexpr int sample_mask_empty = -2;   // the mask allows no token of the row

// The chosen token of v: [V] logits (overwritten: masked, then weights), for a uniform draw u in [0, 1). mask: null
// or a bitset over the row (bit i of word i >> 5 set = token i allowed), ceil(V / 32) words. Order as Hugging Face /
// vLLM: mask → greedy if temperature 0, else temperature → top-k → top-p → min-p → draw ∝ the remaining weights
// exp((l − max) / T). Its scratch is per thread, kept between calls.
int sample_row(const kernels& k, float* v, int V, const uint32_t* mask, const sample_params& p, double u);

}  // namespace resident
