#include "architectures.h"

namespace resident {

namespace {
const architecture table[] = {
    {"qwen3", make_qwen3},
    {"qwen3moe", make_qwen3},  // the same forward: the config's layer kinds say which layers are MoE
    {"qwen35", make_qwen35},
    {"qwen35moe", make_qwen35},
    {"minimax-m2", make_minimax_m2},
};
}  // namespace

const architecture* find_architecture(const std::string& name) {
  for (const architecture& a : table)
    if (name == a.name) return &a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const architecture& a : table) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

}  // namespace resident
