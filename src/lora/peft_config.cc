#include "lora/peft_config.h"

#include "io/json_file.h"
#include "model/family.h"
#include "model/language_model.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace lorahub::lora {
namespace {

// PeftConfig's own keys and the fields LoRA and IA3 share.
const std::vector<std::string> kSharedKeys = {
    "peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "auto_mapping",
    "peft_version", "target_modules", "fan_in_fan_out", "modules_to_save", "exclude_modules"};

// Shared fields that change which modules exist or are wrapped.
const char* const kRefusedWhenSet[] = {"modules_to_save", "exclude_modules"};

}  // namespace

void check_peft_config(const io::JsonFields& f, const model::LanguageModel& base, const PeftConfigKind& kind) {
  const std::string peft_type = f.get_string("peft_type", "LORA");
  if (peft_type != kind.peft_type) f.fail("peft_type", "expected \"" + kind.peft_type + "\", found \"" + peft_type + "\"");
  std::vector<std::string> known = kSharedKeys;
  known.insert(known.end(), kind.own_keys.begin(), kind.own_keys.end());
  f.warn_unknown(known);
  for (const char* key : kRefusedWhenSet) {
    if (f.has(key) && !f.at(key).empty()) f.fail(key, "not supported; expected null, found " + f.at(key).dump());
  }
  const std::string task_type = f.get_string("task_type", base.peft_task_type());
  if (task_type != base.peft_task_type()) {
    f.fail("task_type", "expected \"" + base.peft_task_type() + "\" for a " + model::family_name(base.family()) +
                            " model, found \"" + task_type + "\"");
  }
  if (f.get_bool("fan_in_fan_out", false)) {  // PEFT's own warning, and its choice; once per process, as unknown keys
    io::warn_once("adapter_config.json: fan_in_fan_out of " + kind.peft_type,
                  "warning: " + f.file() + ": fan_in_fan_out is set to True but the target modules are torch Linear "
                  "layers; setting fan_in_fan_out to False (as PEFT does)");
  }
}

model::TargetModules read_target_modules(const io::JsonFields& f, const model::LanguageModel& base,
                                         const std::string& key) {
  if (f.has(key) && f.at(key).is_string()) {
    return model::TargetModules::from_string(f.get_string(key), f.file() + ": field '" + key + "'");
  }
  const auto names = f.get_strings(key);
  for (const auto& t : names) {
    if (model::TargetModules::list({t}).select(base.projections()).empty()) {
      f.fail(key, "'" + t + "' names no projection of the base model (" + base.target_modules_hint() + ")");
    }
  }
  return model::TargetModules::list(names);
}

}  // namespace lorahub::lora
