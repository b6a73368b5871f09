#include "lora/peft_export.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "lora/merge_methods.h"
#include "t5/checkpoint.h"
#include "t5/t5_model.h"
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
}  // namespace

void write_peft_adapter(const std::string& dir, const ComposedAdapter& adapter,
                        const std::vector<std::string>& target_modules, const std::string& base_model_name_or_path) {
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
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
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
      {"target_modules", target_modules},
      {"task_type", "SEQ_2_SEQ_LM"},
  };
  if (adapter.lora_alpha == static_cast<double>(static_cast<int64_t>(adapter.lora_alpha))) {
    config["lora_alpha"] = static_cast<int64_t>(adapter.lora_alpha);
  }
  io::write_safetensors(dir + "/adapter_model.safetensors", adapter.tensors, {{"format", "pt"}});
  io::write_json_file(dir + "/adapter_config.json", config);
}

namespace {
void write_checkpoint(const std::string& dir, const t5::T5Model& base, const model::WeightStore& merged,
                      const std::string& tokenizer_dir) {
  make_dir(dir);
  io::TensorMap tensors;
  for (const auto& [name, t] : merged.tensors()) tensors[name] = t.to(at::kCPU);
  t5::save_checkpoint(dir, base.config(), tensors);
  for (const char* f : {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}) {
    const std::string src = tokenizer_dir + "/" + f;
    if (io::file_exists(src)) {
      std::filesystem::copy_file(src, dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
    }
  }
}
}  // namespace

void write_merged_checkpoint(const std::string& dir, const t5::T5Model& base, const LoraPool& pool,
                             const at::Tensor& weights, Method method, const std::string& tokenizer_dir) {
  write_checkpoint(dir, base, *merge(base, pool, weights, method), tokenizer_dir);
}

void write_merged_checkpoint(const std::string& dir, const t5::T5Model& base, const ComposedAdapter& adapter,
                             const std::string& tokenizer_dir) {
  write_checkpoint(dir, base, *merged_weights(base.weights(), adapter), tokenizer_dir);
}

}  // namespace lorahub::lora
