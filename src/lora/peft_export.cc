#include "lora/peft_export.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "lora/merge_methods.h"
#include "model/language_model.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

namespace lorahub::lora {
namespace {
void make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw std::runtime_error(dir + ": cannot create output directory (" + ec.message() + ")");
  }
}
// A composition whose numbers overflowed is refused before any file is written.
// With `base` (a merged checkpoint), a tensor that is not finite in the base
// model itself is blamed on the base, not on the composition.
void refuse_non_finite(const io::TensorMap& tensors, const std::string& dir, const std::string& what,
                       const model::WeightStore* base = nullptr) {
  for (const auto& [name, t] : tensors) {
    if (at::isfinite(t).all().item<bool>()) continue;
    if (base && base->contains(name) && !at::isfinite(base->tensors().at(name)).all().item<bool>()) {
      throw std::invalid_argument(dir + ": " + what + " not written: the base model's own tensor " +
                                  io::quoted_name(name) + " (from " + base->origin(name) + ") is not finite in " +
                                  c10::toString(base->dtype()) + ", before any composition");
    }
    throw std::invalid_argument(dir + ": " + what + " not written: its tensor " + io::quoted_name(name) +
                                " is not finite (the composition weights or the modules overflow float32)");
  }
}
}  // namespace

void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter, const nlohmann::json& targets,
                        const std::string& base_model_name_or_path, const std::string& task_type) {
  refuse_non_finite(adapter.tensors, dir, "PEFT adapter");
  make_dir(dir);
  // The keys and defaults PEFT 0.7's LoraConfig.save_pretrained writes.
  nlohmann::json config = {
      {"alpha_pattern", nlohmann::json::object()},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layers_pattern", targets.at("layers_pattern")},
      {"layers_to_transform", targets.at("layers_to_transform")},
      {"loftq_config", nlohmann::json::object()},
      {"lora_alpha", adapter.lora_alpha},
      {"lora_dropout", 0.0},
      {"megatron_config", nullptr},
      {"megatron_core", "megatron.core"},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", adapter.r},
      {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr},
      {"target_modules", targets.at("target_modules")},
      {"task_type", task_type},
  };
  if (adapter.lora_alpha == static_cast<double>(static_cast<int64_t>(adapter.lora_alpha))) {
    config["lora_alpha"] = static_cast<int64_t>(adapter.lora_alpha);
  }
  io::write_safetensors(dir + "/adapter_model.safetensors", adapter.tensors, {{"format", "pt"}});
  io::write_json_file(dir + "/adapter_config.json", config);
}

void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter,
                        const std::vector<std::string>& target_modules, const std::string& base_model_name_or_path,
                        const std::string& task_type) {
  const nlohmann::json targets = {
      {"target_modules", target_modules}, {"layers_to_transform", nullptr}, {"layers_pattern", nullptr}};
  write_peft_adapter(dir, adapter, targets, base_model_name_or_path, task_type);
}

namespace {
void write_checkpoint(const std::string& dir, const model::LanguageModel& base, const model::WeightStore& merged,
                      const std::string& tokenizer_dir) {
  io::TensorMap tensors;
  for (const auto& [name, t] : merged.tensors()) tensors[name] = t.to(at::kCPU);
  refuse_non_finite(tensors, dir, "merged checkpoint", &base.weights());
  make_dir(dir);
  base.save(dir, tensors);
  model::copy_tokenizer_files(tokenizer_dir, dir);
}
}  // namespace

void write_merged_checkpoint(const std::string& dir, const model::LanguageModel& base, const LoraPool& pool,
                             const at::Tensor& weights, Method method, const std::string& tokenizer_dir) {
  write_checkpoint(dir, base, *merge(base, pool, weights, method), tokenizer_dir);
}

void write_merged_checkpoint(const std::string& dir, const model::LanguageModel& base, const ComposedAdapter& adapter,
                             const std::string& tokenizer_dir) {
  write_checkpoint(dir, base, *merged_weights(base.weights(), adapter), tokenizer_dir);
}

}  // namespace lorahub::lora
