#pragma once
// The tiny-llama fixture (../shared/fixtures/tiny-llama): golden numbers and
// the model, loaded once per test process.

#include "io/json_file.h"
#include "llama/checkpoint.h"
#include "llama/llama_model.h"
#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace lorahub::testing {

inline std::string llama_dir() { return shared_dir() + "/fixtures/tiny-llama"; }

inline const nlohmann::json& llama_golden() {
  static const nlohmann::json doc = io::read_json_file(llama_dir() + "/golden.json");
  return doc;
}

inline const nlohmann::json& llama_golden_ia3() {
  static const nlohmann::json doc = io::read_json_file(llama_dir() + "/golden_ia3.json");
  return doc;
}

inline const llama::Checkpoint& llama_checkpoint() {
  static const llama::Checkpoint ck = llama::load_checkpoint(llama_dir() + "/base");
  return ck;
}

inline const llama::LlamaModel& llama_model() {
  static const llama::LlamaModel model(llama_checkpoint().config, llama_checkpoint().weights);
  return model;
}

// golden.json's examples as (prompt, target) id lists.
inline std::vector<llama::TokenIds> llama_prompts(int n = -1) {
  std::vector<llama::TokenIds> out;
  for (const auto& ex : llama_golden()["examples"]) {
    if (n >= 0 && static_cast<int>(out.size()) == n) break;
    out.push_back(ids(ex["prompt_ids"]));
  }
  return out;
}
inline std::vector<llama::TokenIds> llama_targets(int n = -1) {
  std::vector<llama::TokenIds> out;
  for (const auto& ex : llama_golden()["examples"]) {
    if (n >= 0 && static_cast<int>(out.size()) == n) break;
    out.push_back(ids(ex["target_ids"]));
  }
  return out;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace lorahub::testing
