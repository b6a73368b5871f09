#pragma once
// The worker's LoRA Soups units (issue 15): "merge" evaluations (the drawn
// modules merged by a PEFT add_weighted_adapter method, lora/merge_methods.h)
// and "cat_learned" training (global CAT weights by AdamW on the shots,
// learn/gradient_weights.h).

#include "learn/gradient_weights.h"
#include "lora/lora_adapter.h"
#include "lora/lora_pool.h"
#include "model/language_model.h"
#include "run/work_unit.h"

#include <memory>
#include <string>
#include <vector>

namespace lorahub::model {
class WeightStore;
}

namespace lorahub::run {

// The base weights with the merge of `adapters` (weights one per adapter)
// folded in, by the unit's PEFT method.
std::shared_ptr<model::WeightStore> merged_for_unit(const model::LanguageModel& model,
                                                    const std::vector<lora::LoraAdapter>& adapters,
                                                    const std::vector<double>& weights, const MergeSpec& merge);

// CAT weights learned on (inputs, targets) with the unit's lr, epochs,
// batch_size, seed and per_target (gradients on, whatever the caller's
// grad mode).
learn::GradientResult learn_for_unit(const model::LanguageModel& model, const lora::LoraPool& pool,
                                     const std::vector<model::TokenIds>& inputs,
                                     const std::vector<model::TokenIds>& targets, const WorkUnit& unit);

// The examples of the skill data files (JSONL, input and target), in file
// order: they replace `inputs` and `targets`.
void read_skill_data(const std::vector<std::string>& files, std::vector<std::string>& inputs,
                     std::vector<std::string>& targets);

}  // namespace lorahub::run
