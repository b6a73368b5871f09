#pragma once
// A library of compatible LoRA modules kept once in memory (on the model's
// device, in float32 under float32 and half-precision models (float64 under
// float64: model::at_least_float_type): compositions are computed there and
// rounded once, where model::add_low_rank casts them to the activations' dtype), stacked per target projection so that compositions are
// a few matrix products away and never copy or modify the modules.

#include "lora/lora_adapter.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lorahub::model {
class LanguageModel;
}

namespace lorahub::lora {

// One projection that every module of the pool adapts.
struct PoolTarget {
  std::string module;  // "decoder.block.1.layer.1.EncDecAttention.v"
  int site = -1;       // LanguageModel::projections() index
  at::Tensor a;        // [N, r, in], at least float32
  at::Tensor b;        // [N, out, r], at least float32
  double scale = 0;    // the effective scale every module has here
};

class LoraPool {
 public:
  // Checks that the adapters can be composed: same rank, same effective
  // scale on each projection (lora_alpha / r, or lora_alpha / sqrt(r) with
  // use_rslora, or the module's alpha_pattern entry: an rslora module
  // composes with plain ones of the same scale, a module whose
  // alpha_pattern gives another scale does not, because a composition has
  // one scale per projection; any sign), same adapted modules, same base_model_name_or_path (unless
  // `check_base` is false). Errors name the odd module and why ("rank 8 but
  // the other modules have rank 4").
  LoraPool(const model::LanguageModel& base, std::vector<LoraAdapter> adapters, bool check_base = true);
  // Loads every directory (load_adapter) and builds the pool.
  static LoraPool load(const model::LanguageModel& base, const std::vector<std::string>& dirs, bool check_base = true);

  int64_t size() const { return static_cast<int64_t>(adapters_.size()); }
  int64_t rank() const { return rank_; }
  // The scale every module shares on the first target (targets()[t].scale
  // holds each target's, equal unless the modules share an alpha_pattern),
  // and the plain-LoRA lora_alpha giving it (scale * r: what an exported
  // composition writes, with use_rslora false and other targets' scales
  // folded into their B).
  double scale() const { return scale_; }
  double lora_alpha() const { return scale_ * static_cast<double>(rank_); }
  int64_t num_sites() const { return num_sites_; }
  const std::vector<PoolTarget>& targets() const { return targets_; }
  // Metadata of module i (its tensors live only in targets()).
  const LoraAdapter& adapter(int64_t i) const { return adapters_.at(static_cast<size_t>(i)); }
  // The target fields an exported composition writes
  // (export_target_config): the modules' own when they agree (target_modules
  // as the original string or list, layers_to_transform, layers_pattern),
  // else an explicit list of the adapted projections.
  nlohmann::json target_modules() const;

  // A pool of the modules at `indices`, in that order, sharing nothing
  // mutable with this one (stacks are gathered once).
  LoraPool subset(const std::vector<int64_t>& indices) const;

 private:
  LoraPool() = default;
  std::vector<LoraAdapter> adapters_;
  std::vector<PoolTarget> targets_;
  int64_t rank_ = 0;
  double scale_ = 0;
  int64_t num_sites_ = 0;
  std::string target_config_;  // target_modules() as JSON text
};

}  // namespace lorahub::lora
