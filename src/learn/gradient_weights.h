#pragma once
// Composition weights learned by gradient descent (LoRA Soups, Prabhakar et
// al. 2024, arXiv 2410.13025: CAT with learnable weights): the base model
// and the modules are frozen, only the weights w receive gradients.
//   - per-target CAT: w [N, L], one weight per module i and target projection
//     t (L = pool.targets().size(), one LoRA-wrapped projection in one layer):
//     delta W_t = sum_i w[i, t] s B_i,t A_i,t;
//   - global CAT: w [N], delta W_t = sum_i w_i s B_i,t A_i,t;
//   - LoraHub: w [N], delta W_t = s (sum_i w_i B_i,t)(sum_i w_i A_i,t).
// Initialised to 1/N (LoRA Soups), trained with AdamW (torch::optim::AdamW,
// decoupled weight decay) on the HF seq2seq loss (mean token cross-entropy
// over labels != -100 of each batch) + l1_weight * mean |w|. With a
// validation split the weights of the step with the lowest validation loss
// are kept (the initial weights count as step 0); without one, the last.
// Deterministic for a seed and thread count. The model's dtype is used for
// the forward pass (float64 for gradient checks); w is float64.

#include "learn/defaults.h"
#include "lora/composition.h"
#include "lora/lora_pool.h"
#include "model/language_model.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <limits>
#include <vector>

namespace lorahub::learn {

struct GradientStep {
  int64_t step = 0;            // 1-based optimizer step (0: the initial weights)
  double train_loss = 0;       // the batch's loss before the step (NaN at step 0)
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // where evaluated
};

struct GradientOptions {
  lora::Method method = lora::Method::kCat;  // kCat or kLoraHub
  bool per_target = false;                   // w [N, L] (CAT only)
  double lr = defaults::kWeightsLearningRate;
  double weight_decay = 0.0;                 // AdamW's decoupled decay
  int64_t epochs = defaults::kWeightsEpochs;  // passes over the training examples
  int64_t steps = 0;                         // > 0: stop after this many steps instead
  int64_t batch_size = defaults::kTrainBatchSize;  // examples per step (the last batch of an epoch may be smaller)
  double l1_weight = 0.0;                    // l1_weight * mean |w| added to the loss
  double validation_fraction = 0.0;          // [0, 1): examples held out (seeded), round(f * k), >= 1 if f > 0
  int64_t eval_every = 0;                    // steps between validation losses (0: every epoch)
  uint64_t seed = 0;                         // batch order and validation split
  std::function<void(const GradientStep&)> on_step;  // after every step
};

struct GradientResult {
  at::Tensor weights;        // the selected weights, float64 [N] or [N, L]
  at::Tensor final_weights;  // after the last step
  int64_t best_step = 0;     // step of `weights` (0: the initial 1/N)
  double best_val_loss = std::numeric_limits<double>::quiet_NaN();
  std::vector<GradientStep> history;  // step 0, then one entry per step
  std::vector<int64_t> validation;    // indices of the held-out examples
};

// The differentiable objective on one batch: loss of the model with the
// composition of `w` + l1_weight * mean |w| (w may require grad; the
// model's and pool's tensors are only read).
at::Tensor composition_loss(const model::LanguageModel& model, const lora::LoraPool& pool, const model::PairBatch& batch,
                            const at::Tensor& w, lora::Method method, bool per_target, double l1_weight = 0);

// Throws std::invalid_argument for no examples, per_target with LoraHub, a
// method other than kCat / kLoraHub, lr <= 0, batch_size < 1, epochs and
// steps both < 1, validation_fraction outside [0, 1) or leaving no
// training example.
GradientResult learn_weights_by_gradient(const model::LanguageModel& model, const lora::LoraPool& pool,
                                         const std::vector<model::TokenIds>& inputs,
                                         const std::vector<model::TokenIds>& targets, const GradientOptions& options);

}  // namespace lorahub::learn
