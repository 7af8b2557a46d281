// The architectures the engine runs: one forward file each under models/, chosen by model_config::arch.
// Adding one: models/<arch>.cpp with a class deriving from model (bind_weights, forward_layers), its make_<arch>
// declared here and listed in architectures.cpp, the file in binding.gyp.
#pragma once
#include <string>

#include "../model.h"

namespace resident {

struct architecture {
  const char* name;                          // model_config::arch
  model* (*make)(const model_config& cfg);  // a new, unbound model (model::load binds it and sizes its buffers)
};

const architecture* find_architecture(const std::string& name);  // nullptr for an unknown name
std::string architecture_names();                                // "qwen3, qwen3moe": for error messages

model* make_qwen3(const model_config& cfg);   // models/qwen3.cpp: Qwen3 dense and Qwen3-MoE
model* make_qwen35(const model_config& cfg);  // models/qwen35.cpp: Qwen3.5 / 3.6 hybrids, dense and MoE
model* make_minimax_m2(const model_config& cfg);  // models/minimax-m2.cpp: MiniMax-M2 / M2.5

}  // namespace resident
