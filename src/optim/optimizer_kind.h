#pragma once
// The gradient-free optimizers and their names (one table: CLI, YAML,
// results file and help texts).

#include "util/names.h"

#include <cstdint>

namespace lorahub::optim {

// Objective evaluations (LoraHub's lorahub_learning max_inference_step).
inline constexpr int64_t kDefaultBudget = 40;

enum class OptimizerKind { kCobyla, kCmaEs, kRandom, kOnePlusOne };

inline constexpr util::Name<OptimizerKind> kOptimizerNames[] = {
    {OptimizerKind::kCobyla, "cobyla"},
    {OptimizerKind::kCmaEs, "cmaes"},
    {OptimizerKind::kRandom, "random"},
    {OptimizerKind::kOnePlusOne, "one_plus_one"},
};

}  // namespace lorahub::optim
