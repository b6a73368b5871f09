#pragma once
// The five fixture adapters as a pool over the tiny model.

#include "lora/lora_pool.h"
#include "t5/tiny_model.h"

#include <string>
#include <vector>

namespace lorahub::testing {

inline std::string lora_dir(int i) { return tiny_dir() + "/lora/lora" + std::to_string(i); }

inline std::vector<std::string> lora_dirs(int n = 5) {
  std::vector<std::string> d;
  for (int i = 0; i < n; ++i) d.push_back(lora_dir(i));
  return d;
}

inline const lora::LoraPool& tiny_pool() {
  static const lora::LoraPool pool = lora::LoraPool::load(tiny_model(), lora_dirs());
  return pool;
}

}  // namespace lorahub::testing
