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

// What gradient training (learn/trainer.h) adapts: LoRA matrices (PEFT
// LoraModel), every weight (full fine-tuning) or IA3 vectors (PEFT IA3Model).
enum class TrainMode { kLora, kFull, kIa3 };
inline constexpr util::Name<TrainMode> kTrainModeNames[] = {
    {TrainMode::kLora, "lora"},
    {TrainMode::kFull, "full"},
    {TrainMode::kIa3, "ia3"},
};

namespace defaults {
inline constexpr double kL1 = 0.05;               // lorahub's default_l1_regularization
inline constexpr double kBound = 1.5;             // weights searched in [-bound, bound]
inline constexpr int64_t kCandidatesPerPass = 16; // candidates evaluated in one forward pass

// Gradient training (learn::train; `lorahub train-lora`, the sweep's
// lora_tuning, full_ft, ia3 and data_mix baselines).
inline constexpr int64_t kLoraRank = 16;
inline constexpr double kLoraAlpha = 32;          // scale = alpha / rank
inline constexpr int64_t kTrainBatchSize = 8;     // examples per step
inline constexpr int64_t kTrainSteps = 200;       // `lorahub train-lora`: a module on a task's data
inline constexpr int64_t kBaselineTrainSteps = 40;  // the sweep's baselines on the k shots
// AdamW learning rates by mode: LoRA 1e-3 (PEFT's examples), IA3 3e-3 (the
// IA3 paper, Liu et al. 2022), full fine-tuning 3e-5 (T5 fine-tuning practice).
constexpr double learning_rate(TrainMode mode) {
  return mode == TrainMode::kFull ? 3e-5 : mode == TrainMode::kIa3 ? 3e-3 : 1e-3;
}

// CAT / LoraHub weights learned by AdamW (learn/gradient_weights.h; the
// sweep's cat_learned, `lorahub learn --optimizer adamw`).
inline constexpr double kWeightsLearningRate = 1e-2;
inline constexpr int64_t kWeightsEpochs = 10;
}  // namespace defaults

}  // namespace lorahub::learn
