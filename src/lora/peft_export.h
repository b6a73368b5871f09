#pragma once
// Writing compositions in the formats users load elsewhere: a PEFT adapter
// directory (PeftModel.from_pretrained loads it) or a full HF checkpoint with
// the composition merged in.

#include "lora/composition.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace lorahub::lora {

// adapter_config.json (PEFT's LoraConfig keys) + adapter_model.safetensors,
// for a model whose adapters have PEFT task_type `task_type`
// (LanguageModel::peft_task_type).
// `targets` holds target_modules (the original string or list), and
// layers_to_transform / layers_pattern (LoraPool::target_modules), so that
// the adapter wraps the same modules when reloaded. Throws
// std::invalid_argument, writing nothing, when a tensor is not finite.
// Files are written atomically; the directory is created if needed.
void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter, const nlohmann::json& targets,
                        const std::string& base_model_name_or_path, const std::string& task_type);
// The same for a list of target module names (a trained adapter).
void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter,
                        const std::vector<std::string>& target_modules, const std::string& base_model_name_or_path,
                        const std::string& task_type);

// config.json + model.safetensors of `base` with the composition folded in,
// plus the tokenizer files of `tokenizer_dir` when it has them. Throws
// std::invalid_argument, writing nothing, when a merged weight is not finite.
void write_merged_checkpoint(const std::string& dir, const model::LanguageModel& base, const LoraPool& pool,
                             const at::Tensor& weights, Method method, const std::string& tokenizer_dir);
// The same for an adapter made by a merge method (lora/merge_methods.h).
void write_merged_checkpoint(const std::string& dir, const model::LanguageModel& base, const ComposedAdapter& adapter,
                             const std::string& tokenizer_dir);

}  // namespace lorahub::lora
