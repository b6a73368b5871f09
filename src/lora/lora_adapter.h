#pragma once
// A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors
// or adapter_model.bin), loaded as immutable data keyed by the base module it
// modifies. A LoRA-wrapped projection computes y = W x + scale * B (A x),
// scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (PEFT
// LoraLayer.update_layer; Kalajdzievski 2023, arXiv 2312.03732), A [r, in],
// B [out, r].
//
// adapter_config.json fields (PEFT LoraConfig), each honoured or refused by
// name: r, lora_alpha, use_rslora, target_modules (a list: suffix match; a
// string: full regex match, refused where Python's re and std::regex read
// it differently (model::check_peft_regex); "all-linear": every projection
// of the registry, PEFT >= 0.8's shorthand, which leaves out the output
// head), layers_to_transform and layers_pattern (PEFT 0.7.1's
// check_target_module_exists; refused where newer PEFT's rule would wrap
// other modules, e.g. T5 without layers_pattern), fan_in_fan_out
// (PEFT ignores it for torch Linear layers, so the tensors keep Linear's
// layout), alpha_pattern (a module's own scale). Refused: use_dora true,
// rank_pattern giving another rank, bias other than "none", modules_to_save,
// layer_replication, exclude_modules, lora_bias true, use_qalora true,
// target_parameters, trainable_token_indices, alora_invocation_tokens and
// arrow_config when set (PEFT 0.14 - 0.18), task_type other than the
// model's (LanguageModel::peft_task_type), peft_type other than LORA. Fields with no effect on the
// numbers (lora_dropout, init_lora_weights, ...) are accepted; any other key
// is warned about on stderr, by name.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <map>
#include <string>
#include <vector>

namespace lorahub::model {
class LanguageModel;
class ProjectionRegistry;
}

namespace lorahub::io {
class JsonFields;
}  // namespace lorahub::io

namespace lorahub::lora {

struct LoraPair {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
  // The module's effective scale: its alpha_pattern entry, or the adapter's
  // lora_alpha, over r (or sqrt(r) with use_rslora). delta W = scale * B A
  // (1 for a merged pair, whose B A is the update itself).
  double scale = 1;
};

struct LoraAdapter {
  std::string id;    // how the user named it (directory path or module id)
  std::string path;  // directory
  int64_t r = 0;
  double lora_alpha = 0;
  bool use_rslora = false;
  // lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (PEFT).
  double scale() const;
  std::vector<std::string> target_modules;  // as in the config (names or one regex)
  bool target_is_regex = false;
  bool target_all_linear = false;  // target_modules: "all-linear"
  // PEFT's layer restriction (list targets only): the layer index is the number
  // after one of layers_pattern in the module name ("block.3.", PEFT 0.7.1's
  // regex; newer PEFT's reads the same modules, or the adapter is refused).
  std::vector<int64_t> layers_to_transform;  // empty: every layer
  // As in the config; when the config gives none with layers_to_transform,
  // the one of PEFT's common patterns ("block", "layers") that both rules
  // read alike, so that exports write it explicitly (empty if none does).
  std::vector<std::string> layers_pattern;
  std::string base_model_name_or_path;
  std::string task_type;  // the base's when the config gives none
  // Base module ("encoder.block.0.layer.0.SelfAttention.q") -> tensors, in
  // torch Linear layout whatever fan_in_fan_out said on disk, and scale.
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
// The inverse: false for any other key (also for "...lora_A.default.weight",
// the adapter-named key of a PeftModel.state_dict() dump, which PEFT's
// loader does not read).
bool parse_peft_key(const std::string& key, std::string& module, bool& is_a);

// Whether PEFT would wrap `module` given target_modules (suffix match on a
// list; full match of one regex string; any registered projection for
// "all-linear") and layers_to_transform.
bool targets_module(const LoraAdapter& adapter, const std::string& module);

// The adapter_config.json fields that say which modules are wrapped
// (target_modules as the original string or list, layers_to_transform,
// layers_pattern), so that an export reloads to the same modules.
nlohmann::json target_config(const LoraAdapter& adapter);

// The target fields an export of a composition of `adapters` writes, its
// tensors adapting `modules`, so that it reloads (here and in every PEFT
// version) to exactly those modules: the adapters' own target_config when
// they all agree and any layers_to_transform comes with a layers_pattern,
// else an explicit list (layers_to_transform and layers_pattern
// null) of projection names ("q", "v") when those name exactly `modules`
// among the projections of `sites`, or of the full module names otherwise
// (PEFT's list rule matches an entry equal to the whole name). Never a
// regex or "all-linear" inside a list.
nlohmann::json export_target_config(const std::vector<const LoraAdapter*>& adapters,
                                    const std::vector<std::string>& modules, const model::ProjectionRegistry& sites);

}  // namespace lorahub::lora
