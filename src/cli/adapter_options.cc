#include "cli/adapter_options.h"

#include "lora/composition.h"
#include "lora/ia3_adapter.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>

namespace po = boost::program_options;

namespace lorahub::cli {

void add_adapter_options(po::options_description& desc, AdapterFlags& flags) {
  desc.add_options()
      ("adapter", po::value(&flags.adapter), "a PEFT adapter to apply (LoRA or IA3)")
      ("weights", po::value(&flags.weights_text), "composition weights for --modules (write --weights=-0.5,...)")
      ("composition", po::value(&flags.composition)->default_value("lorahub"), "lorahub or cat (with --modules)");
  add_module_options(desc, flags.modules);
}

AdaptedModel adapt_model(const model::LanguageModel& base, const AdapterFlags& flags, bool merge) {
  const bool have_modules = !flags.modules.dirs.empty() || !flags.modules.list_file.empty();
  if (!flags.adapter.empty() && have_modules) throw UsageError("give --adapter or --modules, not both");
  if (have_modules != !flags.weights_text.empty()) throw UsageError("--modules and --weights go together");
  const lora::Method method = [&] {
    try {
      return lora::parse_method(flags.composition, "--composition");
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }();
  AdaptedModel out;
  if (!flags.adapter.empty() && lora::peft_type(flags.adapter) == "IA3") {
    out.runtime = lora::load_peft_ia3_adapter(flags.adapter, base);
    return out;
  }
  std::vector<std::string> dirs{flags.adapter};
  std::vector<double> w{1.0};
  lora::Method m = lora::Method::kLoraHub;
  if (have_modules) {
    dirs = resolve_modules(flags.modules);
    w = parse_doubles(flags.weights_text, "--weights");
    if (w.size() != dirs.size()) {
      throw UsageError("--weights: " + std::to_string(w.size()) + " weights for " + std::to_string(dirs.size()) + " modules");
    }
    out.weights = w;
    m = method;
  } else if (flags.adapter.empty()) {
    return out;
  }
  const auto pool = lora::LoraPool::load(base, dirs, have_modules && !flags.modules.ignore_base);
  const at::Tensor weights = at::tensor(w, at::kDouble);
  at::NoGradGuard no_grad;
  if (merge) {
    out.merged = base.with_weights(lora::merge(base, pool, weights, m));
  } else {
    out.runtime = lora::compose(pool, weights, m);
  }
  return out;
}

}  // namespace lorahub::cli
