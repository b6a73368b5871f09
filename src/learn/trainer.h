#pragma once
// Gradient training with LibTorch autograd, for the paper's baselines (LoRA
// tuning, full fine-tuning, IA3 on the same k shots) and for building module
// libraries (`lorahub train-lora`). CPU or GPU, whatever the model is on.

#include "learn/defaults.h"
#include "lora/composition.h"
#include "model/language_model.h"
#include "model/linear.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::learn {

// Throws std::invalid_argument "<what>: expected lora, full or ia3, found ...".
TrainMode parse_train_mode(const std::string& name, const std::string& what);

struct TrainOptions {
  TrainMode mode = TrainMode::kLora;
  int64_t rank = defaults::kLoraRank;    // LoRA
  double alpha = defaults::kLoraAlpha;   // LoRA: scale = alpha / rank
  // LoRA: target_modules (model::TargetModules list rule, as PEFT); empty:
  // the model's LanguageModel::default_lora_targets().
  std::vector<std::string> targets;
  double lr = defaults::learning_rate(TrainMode::kLora);  // AdamW
  double weight_decay = 0.0;
  int64_t steps = defaults::kTrainSteps;
  int64_t batch_size = defaults::kTrainBatchSize;  // examples per step (all when larger)
  uint64_t seed = 0;       // initialisation and batch order
  // LoRA initialisation (the random A matrices) when set; `seed` otherwise.
  // Modules trained by one script under one fixed seed share their A at
  // initialisation, as the paper's PEFT modules do; LoraHub's ΣB·ΣA then
  // stays close to a weighted sum of the modules' own updates.
  std::optional<uint64_t> init_seed;
  int64_t warmup_steps = 0;  // linear learning-rate warmup
  double clip_norm = 0;      // gradient norm clipping (0: off)
  // Called after every step with its index and batch loss (progress reports).
  std::function<void(int64_t, double)> on_step;
};

struct TrainResult {
  std::vector<double> step_losses;  // mean token cross-entropy of each step's batch
  // LoRA and IA3: the learned adaptation, applied at run time.
  model::LowRankSet adaptation;
  lora::ComposedAdapter adapter;          // LoRA as a PEFT state dict
  std::vector<std::string> target_names;    // LoRA: the adapted modules' full names
  std::vector<std::string> target_modules;  // LoRA: the target_modules rule used (options' or the model's
                                            // defaults), for adapter_config.json
  // Full fine-tuning: the new weights (the base model is not modified).
  std::shared_ptr<model::WeightStore> weights;
};

// Trains on (input, target) token ids with the HF loss (mean token CE) and
// AdamW. The base model is never modified. Deterministic for a seed and
// thread count. LoRA and IA3 parameters and AdamW's state are at least
// float32 for any model dtype (model::at_least_float_type; master weights: a bfloat16 parameter would drop every update
// below half its ulp, e.g. IA3's 1.0 + 3e-3 steps); the model casts them
// where it applies them. Gradient clipping runs on the device (no host sync
// per parameter). Full fine-tuning needs a float32 (or float64) model:
// throws std::invalid_argument naming the dtype otherwise.
TrainResult train(const model::LanguageModel& model, const std::vector<model::TokenIds>& inputs,
                  const std::vector<model::TokenIds>& targets, const TrainOptions& options);

// Gradient training stops at the first batch loss, or trained parameter,
// that is not finite: throws model::NonFiniteError "<what>: the loss is nan
// at step 3 of 5 (AdamW lr 1e+30): training diverged; lower the learning
// rate (nothing was written)", naming the weight decay as well when it is
// not 0 (AdamW scales the weights by 1 - lr x weight_decay each step: "(AdamW
// lr 0.001, weight decay 1e+30): ... lower the learning rate or the weight
// decay (each step scales the weights by 1 - lr x weight decay = -1e+27)
// (nothing was written)"); at step 1 (no update yet) it says the loss is
// not finite before any update, blaming the model, modules or data, not the
// learning rate. Returns the loss as a double otherwise. Used by train() and
// learn_weights_by_gradient(), so no diverged adapter, checkpoint or weight
// vector is ever written.
double finite_loss(const at::Tensor& loss, int64_t step, int64_t steps, double lr, double weight_decay,
                   const std::string& what);
void require_finite_parameters(const std::vector<at::Tensor>& params, int64_t steps, double lr, double weight_decay,
                               const std::string& what);

// PEFT LoRA initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform
// with a = sqrt(5)), B = 0, for every projection named by `targets`; tensors
// of at least float32 on the model's device.
model::LowRankSet init_lora(const model::LanguageModel& model, const TrainOptions& options, std::vector<std::string>* modules);
// IA3 as PEFT's defaults for T5 and Llama: vectors of ones scaling the
// outputs of the attention keys and values (T5 k, v; Llama k_proj, v_proj)
// and the input of the feed-forward output (T5 wo; Llama down_proj). At least float32.
model::LowRankSet init_ia3(const model::LanguageModel& model);

}  // namespace lorahub::learn
