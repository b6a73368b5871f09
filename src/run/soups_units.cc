#include "run/soups_units.h"

#include "lora/merge_methods.h"
#include "tasks/examples.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace lorahub::run {

std::shared_ptr<model::WeightStore> merged_for_unit(const model::LanguageModel& model,
                                                    const std::vector<lora::LoraAdapter>& adapters,
                                                    const std::vector<double>& weights, const MergeSpec& merge) {
  lora::MergeOptions o;
  o.method = merge.method;
  o.density = merge.density;
  o.majority_sign = merge.majority_sign;
  o.seed = merge.seed;
  return lora::merged_weights(model.weights(), lora::merge_adapters(adapters, weights, o));
}

learn::GradientResult learn_for_unit(const model::LanguageModel& model, const lora::LoraPool& pool,
                                     const std::vector<model::TokenIds>& inputs,
                                     const std::vector<model::TokenIds>& targets, const WorkUnit& unit) {
  learn::GradientOptions o;
  o.method = lora::Method::kCat;
  o.lr = unit.lr;
  o.epochs = unit.epochs;
  o.batch_size = unit.batch_size;
  o.seed = unit.seed;
  o.per_target = unit.per_target;
  at::AutoGradMode grad(true);
  return learn::learn_weights_by_gradient(model, pool, inputs, targets, o);
}

void read_skill_data(const std::vector<std::string>& files, std::vector<std::string>& inputs,
                     std::vector<std::string>& targets) {
  inputs.clear();
  targets.clear();
  for (const auto& f : files) {
    for (const auto& e : tasks::read_examples_jsonl(f)) {
      inputs.push_back(e.input);
      targets.push_back(e.target);
    }
  }
}

}  // namespace lorahub::run
