#include "run/soups_units.h"

#include "lora/merge_methods.h"
#include "tasks/examples.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace lorahub::run {

std::shared_ptr<model::WeightStore> merged_for_unit(const model::LanguageModel& model,
                                                    const std::vector<lora::LoraAdapter>& adapters,
                                                    const std::vector<double>& weights, const nlohmann::json& merge) {
  lora::MergeOptions o;
  o.method = lora::parse_method(merge.at("method"), "sweep.methods.merge_method", true);
  o.density = merge.at("density");
  o.majority_sign = lora::parse_majority_sign(merge.at("majority_sign"), "sweep.methods.majority_sign");
  o.seed = merge.at("seed");
  return lora::merged_weights(model.weights(), lora::merge_adapters(adapters, weights, o));
}

learn::GradientResult learn_for_unit(const model::LanguageModel& model, const lora::LoraPool& pool,
                                     const std::vector<model::TokenIds>& inputs,
                                     const std::vector<model::TokenIds>& targets, const nlohmann::json& unit) {
  learn::GradientOptions o;
  o.method = lora::Method::kCat;
  o.lr = unit.at("lr");
  o.epochs = unit.at("epochs");
  o.batch_size = unit.at("batch_size");
  o.seed = unit.at("seed");
  o.per_target = unit.value("per_target", false);
  at::AutoGradMode grad(true);
  return learn::learn_weights_by_gradient(model, pool, inputs, targets, o);
}

void read_skill_data(const nlohmann::json& files, std::vector<std::string>& inputs, std::vector<std::string>& targets) {
  inputs.clear();
  targets.clear();
  for (const auto& f : files) {
    for (const auto& e : tasks::read_examples_jsonl(f.get<std::string>())) {
      inputs.push_back(e.input);
      targets.push_back(e.target);
    }
  }
}

}  // namespace lorahub::run
