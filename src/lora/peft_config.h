#pragma once
// The adapter_config.json rules every PEFT adapter kind shares (LoRA, IA3),
// in one table, so that both kinds are checked alike: the PeftConfig keys,
// the shared fields refused when set, task_type, fan_in_fan_out and the
// target_modules rule (PEFT 0.7 - 0.18 tuners_utils / LoraConfig / IA3Config).

#include "model/target_modules.h"

#include <string>
#include <vector>

namespace lorahub::io {
class JsonFields;
}
namespace lorahub::model {
class LanguageModel;
}

namespace lorahub::lora {

// What one adapter kind adds to the shared rules.
struct PeftConfigKind {
  std::string peft_type;              // "LORA" (PEFT's default when the key is absent), "IA3"
  std::vector<std::string> own_keys;  // the kind's keys: read, refused, or without effect at inference
};

// Checks what every kind shares, in this order: peft_type is kind.peft_type;
// a key neither shared nor the kind's own gets a warning naming it on
// stderr (JsonFields::warn_unknown); modules_to_save and exclude_modules
// are refused when set (null or empty: unused); task_type, when given, is
// `base`'s (LanguageModel::peft_task_type); fan_in_fan_out true is warned
// about and ignored, as PEFT does for torch Linear layers. Warnings are
// printed once per process per key (io::warn_once), not per module of a
// pool. Throws
// std::invalid_argument "<file>: field '<key>': <why>".
void check_peft_config(const io::JsonFields& f, const model::LanguageModel& base, const PeftConfigKind& kind);

// `key` (target_modules, or IA3's feedforward_modules) under PEFT's rule: a
// list (suffix match; an entry that names no projection of `base` is
// refused as a typo, as PEFT's "not found in the base model"), or a string:
// "all-linear" in any case, else a regular expression matched against the
// whole module name. Throws std::invalid_argument naming the file and key.
model::TargetModules read_target_modules(const io::JsonFields& f, const model::LanguageModel& base,
                                         const std::string& key);

}  // namespace lorahub::lora
