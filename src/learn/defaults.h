#pragma once
// One home for the names and defaults of LoraHub learning and training that
// the CLI, the YAML config and the library share (no LibTorch).
// Sources: LoraHub's lorahub_learning (Huang et al. 2023; its defaults:
// default_l1_regularization 0.05, weights searched in [-1.5, 1.5]; its
// budget, max_inference_step 40, is optim::kDefaultBudget).

#include "util/names.h"

#include <cstdint>

namespace lorahub::learn {

enum class LossNormalization {
  // lorahub's default_get_loss: sum over batches of the batch-mean token
  // cross-entropy, divided by the number of examples.
  kLorahub,
  // Mean token cross-entropy over all examples.
  kTokenMean,
};

inline constexpr util::Name<LossNormalization> kLossNames[] = {
    {LossNormalization::kLorahub, "lorahub"},
    {LossNormalization::kTokenMean, "token_mean"},
};

namespace defaults {
inline constexpr double kL1 = 0.05;               // lorahub's default_l1_regularization
inline constexpr double kBound = 1.5;             // weights searched in [-bound, bound]
inline constexpr int64_t kCandidatesPerPass = 16; // candidates evaluated in one forward pass
}  // namespace defaults

}  // namespace lorahub::learn
