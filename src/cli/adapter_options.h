#pragma once
// What a model runs with, from the flags eval and loss share: nothing, one
// PEFT adapter (--adapter: LoRA or IA3), or a composition of modules
// (--modules ... --weights=... --composition lorahub|cat).

#include "cli/common_options.h"
#include "lora/lora_pool.h"
#include "model/language_model.h"
#include "model/linear.h"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lorahub::cli {

struct AdapterFlags {
  std::string adapter;
  std::string weights_text;
  std::string composition = "lorahub";
  ModuleOptions modules;
};

// --adapter --weights --composition and the module flags (add_module_options).
void add_adapter_options(boost::program_options::options_description& desc, AdapterFlags& flags);

// The model with the flags' adaptation. A LoRA adapter is a pool of one
// module with weight 1 (its own update, s * B A); a composition is
// lora::compose of the modules. With `merge` (as the reference evaluates)
// LoRA updates are folded into a copy of the weights (`merged`); otherwise
// they run at run time (`runtime`, one group), as PEFT's unmerged adapter
// and the LoraHub objective do. IA3 always runs at run time.
struct AdaptedModel {
  std::shared_ptr<const model::LanguageModel> merged;  // null: the base model's weights
  model::LowRankSet runtime;                          // empty: none
  std::vector<double> weights;                        // the composition's (--weights), else empty
  const model::LanguageModel& model(const model::LanguageModel& base) const { return merged ? *merged : base; }
  const model::LowRankSet* lora() const { return runtime.by_site.empty() && runtime.scales.empty() ? nullptr : &runtime; }
};

// Checks the flags (UsageError: both --adapter and --modules, --modules
// without --weights or the reverse, a weight count that is not the module
// count); adapters are refused by load_adapter / load_peft_ia3_adapter
// naming the file and field when they do not fit `base`.
AdaptedModel adapt_model(const model::LanguageModel& base, const AdapterFlags& flags, bool merge);

}  // namespace lorahub::cli
