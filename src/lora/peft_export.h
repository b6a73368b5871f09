#pragma once
// Writing compositions in the formats users load elsewhere: a PEFT adapter
// directory (PeftModel.from_pretrained loads it) or a full HF checkpoint with
// the composition merged in.

#include "lora/composition.h"

#include <string>

namespace lorahub::lora {

// adapter_config.json (PEFT's LoraConfig keys) + adapter_model.safetensors.
// Files are written atomically; the directory is created if needed.
void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter,
                        const std::vector<std::string>& target_modules, const std::string& base_model_name_or_path);

// config.json + model.safetensors of `base` with the composition folded in,
// plus the tokenizer files of `tokenizer_dir` when it has them.
void write_merged_checkpoint(const std::string& dir, const t5::T5Model& base, const LoraPool& pool,
                             const at::Tensor& weights, Method method, const std::string& tokenizer_dir);
// The same for an adapter made by a merge method (lora/merge_methods.h).
void write_merged_checkpoint(const std::string& dir, const t5::T5Model& base, const ComposedAdapter& adapter,
                             const std::string& tokenizer_dir);

}  // namespace lorahub::lora
