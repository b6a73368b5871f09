#pragma once
// A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors
// or adapter_model.bin), loaded as immutable data keyed by the base module it
// modifies. A LoRA-wrapped projection computes y = W x + scale * B (A x),
// scale = lora_alpha / r, A [r, in], B [out, r].

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

namespace lorahub::model {
class LanguageModel;
}

namespace lorahub::lora {

struct LoraPair {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
};

struct LoraAdapter {
  std::string id;    // how the user named it (directory path or module id)
  std::string path;  // directory
  int64_t r = 0;
  double lora_alpha = 0;
  double scale() const { return lora_alpha / static_cast<double>(r); }
  std::vector<std::string> target_modules;  // as in the config (names or one regex)
  bool target_is_regex = false;
  std::string base_model_name_or_path;
  std::string task_type;  // the base's when the config gives none
  // Base module ("encoder.block.0.layer.0.SelfAttention.q") -> tensors, in
  // torch Linear layout whatever fan_in_fan_out said on disk.
  std::map<std::string, LoraPair> modules;
};

// Loads and checks `dir` against `base`: the config (peft_type LORA, r > 0,
// lora_alpha, target_modules naming projections of `base`, task_type, when
// given, the one of `base`'s family (LanguageModel::peft_task_type), no
// rank/alpha patterns), the weight file
// (safetensors preferred, else .bin), that every tensor is an A or B of a
// module, pairs are complete, each module is a projection of `base` named by
// target_modules, and shapes agree with r and the base weight. Nothing is
// returned unless all of it holds; errors name the file and tensor.
// Tensors are kept in float32 on the CPU.
LoraAdapter load_adapter(const std::string& dir, const model::LanguageModel& base, const std::string& id = "");

// PEFT's key for a module's A or B: "base_model.model.<module>.lora_A.weight".
std::string peft_key(const std::string& module, bool is_a);

// Whether PEFT would wrap `module` given target_modules (model::TargetModules:
// suffix match on a list; full match of one regex string; "all-linear").
bool targets_module(const LoraAdapter& adapter, const std::string& module);

}  // namespace lorahub::lora
